//! `valet proxy`: the reverse proxy of `valet-proxy`, run from its config file, or
//! `--check` to validate that file and every file it names.

use serde_json::json;
use valet_proxy::{Config, ConfigError, Problem, Proxy, Severity};

use crate::args::{Output, ProxyArgs};
use crate::error::{exit, CliError, CliResult};
use crate::text::escape;

/// Checks the config, or serves with it until SIGTERM or Ctrl-C.
pub fn proxy(args: &ProxyArgs, output: Output) -> CliResult {
    let config = Config::read(&args.config).map_err(|e| config_error(&e, args))?;
    if args.check {
        let warnings = Proxy::check(&config).map_err(|e| config_error(&e, args))?;
        print_warnings(&warnings);
        match output {
            Output::Text => println!(
                "`{}` is valid: listening on {}, forwarding to {}, for resource {}{}",
                escape(&args.config.display().to_string()),
                config.listen(),
                escape(config.upstream()),
                escape(config.resource().audience().as_str()),
                match warnings.len() {
                    0 => String::new(),
                    1 => " (1 warning)".to_owned(),
                    n => format!(" ({n} warnings)"),
                }
            ),
            Output::Json => println!(
                "{}",
                json!({
                    "valid": true,
                    "config": args.config.display().to_string(),
                    "resource": config.resource().audience().as_str(),
                    "upstream": config.upstream(),
                    "listen": config.listen().to_string(),
                    "warnings": warnings.iter().flat_map(lines).collect::<Vec<_>>(),
                })
            ),
        }
        return Ok(exit::OK);
    }
    let proxy = Proxy::new(config).map_err(|e| config_error(&e, args))?;
    print_warnings(proxy.warnings());
    proxy
        .run_until_signal(|listening| eprintln!("{}", escape(listening.status_line())))
        .map_err(|e| CliError::new(e.to_string()))?;
    Ok(exit::OK)
}

fn print_warnings(warnings: &[Problem]) {
    for line in warnings.iter().flat_map(lines) {
        eprintln!("{}", escape(&line));
    }
}

/// A problem as printed: `file:line:column: error: message`, then each of its details
/// on a line of its own.
fn lines(p: &Problem) -> Vec<String> {
    let head = match &p.at {
        Some(at) => format!("{at}: {}: {}", p.severity, p.message),
        None => format!("{}: {}", p.severity, p.message),
    };
    std::iter::once(head)
        .chain(p.details.iter().cloned())
        .collect()
}

/// A config that cannot be read exits with 1; one with problems with 3, each problem a
/// diagnostic.
fn config_error(e: &ConfigError, args: &ProxyArgs) -> CliError {
    let ConfigError::Invalid { problems, .. } = e else {
        return CliError::new(e.to_string());
    };
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let file = args.config.display();
    CliError::validation(
        format!(
            "the config file `{file}` has {errors} {}: fix {} and run `valet proxy --check {file}`",
            if errors == 1 { "error" } else { "errors" },
            if errors == 1 { "it" } else { "them" },
        ),
        problems.iter().flat_map(lines).collect(),
    )
}
