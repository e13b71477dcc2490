//! `valet validate`, `valet format` and `valet run-tests`.

use std::path::{Path, PathBuf};

use valet::PolicyStore;
use valet_policy::{format_policies, testing, Diagnostic, FormatError, PolicyError, SCHEMA_FILE};

use crate::args::{FormatArgs, Output, RunTestsArgs, ValidateArgs};
use crate::error::{exit, CliError, CliResult};
use crate::input::io_reason;
use crate::text::{escape, escape_lines};

/// The error for a policy directory that does not load: exit 3 with diagnostics, or 1
/// when the directory cannot be read.
pub fn policy_error(dir: &Path, e: &PolicyError) -> CliError {
    match e {
        PolicyError::Diagnostics(d) => CliError::validation(
            format!(
                "the policies in `{}` do not validate ({} {}): fix them and run `valet validate -p {}`",
                dir.display(),
                d.len(),
                if d.len() == 1 { "error" } else { "errors" },
                dir.display()
            ),
            d.iter().map(ToString::to_string).collect(),
        ),
        PolicyError::Io { path, source } => CliError::new(format!(
            "cannot read the policy directory `{}` ({}: {}): give a directory holding `*.cedar` files and `{SCHEMA_FILE}` with `-p`",
            dir.display(),
            path.display(),
            io_reason(source)
        )),
        other => CliError::new(other.to_string()),
    }
}

/// Loads a policy directory, with the schema from `schema` when it is another file.
fn load(dir: &Path, schema: Option<&Path>) -> Result<PolicyStore, CliError> {
    let Some(schema) = schema else {
        return PolicyStore::load(dir).map_err(|e| policy_error(dir, &e));
    };
    if !dir.is_dir() {
        return Err(CliError::new(format!(
            "cannot read the policy directory `{}`: no such directory: give a directory holding `*.cedar` files with `-p`",
            dir.display()
        )));
    }
    // The store reads `schema.cedarschema` from the directory: stage the policies beside
    // the chosen schema in a private directory and map diagnostics back to the real files.
    let stage = tempfile::tempdir()
        .map_err(|e| CliError::new(format!("cannot create a temporary directory: {e}")))?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to).map(|_| ()).map_err(|e| {
            CliError::new(format!(
                "cannot read `{}`: {}: check the path",
                from.display(),
                io_reason(&e)
            ))
        })
    };
    copy(schema, &stage.path().join(SCHEMA_FILE))?;
    let mut originals: Vec<(PathBuf, PathBuf)> =
        vec![(stage.path().join(SCHEMA_FILE), schema.to_path_buf())];
    for file in cedar_files(dir)? {
        if let Some(name) = file.file_name() {
            let staged = stage.path().join(name);
            copy(&file, &staged)?;
            originals.push((staged, file.clone()));
        }
    }
    let unstage = |d: &Diagnostic| -> Diagnostic {
        let mut d = d.clone();
        if let Some((_, real)) = originals.iter().find(|(s, _)| *s == d.file) {
            d.file = real.clone();
        }
        d
    };
    match PolicyStore::load(stage.path()) {
        Ok(store) => Ok(store),
        Err(PolicyError::Diagnostics(d)) => Err(policy_error(
            dir,
            &PolicyError::Diagnostics(d.iter().map(unstage).collect()),
        )),
        Err(e) => Err(policy_error(dir, &e)),
    }
}

fn cedar_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let read_err = |e: std::io::Error| {
        CliError::new(format!(
            "cannot read the policy directory `{}`: {}: give a directory holding `*.cedar` files with `-p`",
            dir.display(),
            io_reason(&e)
        ))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "cedar") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Validates a policy directory.
pub fn validate(args: &ValidateArgs, output: Output) -> CliResult {
    let store = load(&args.policies, args.schema.as_deref())?;
    if let Some(path) = &args.entities {
        crate::entities::load(path, &args.policies, &store, |m| {
            CliError::validation(m, Vec::new())
        })?;
    }
    let warnings = store.warnings();
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "valid": true,
                "policies": store.policy_ids(),
                "warnings": warnings,
                "entities": args.entities.as_ref().map(|p| p.display().to_string()),
            })
        ),
        Output::Text => {
            for w in &warnings {
                println!("{}", escape(&w.to_string()));
            }
            println!(
                "{} policies in `{}` validate{}",
                store.policy_ids().len(),
                args.policies.display(),
                match warnings.len() {
                    0 => String::new(),
                    1 => " with 1 warning".to_owned(),
                    n => format!(" with {n} warnings"),
                }
            );
            if let Some(path) = &args.entities {
                println!(
                    "the entity data in `{}` fits the schema",
                    escape(&path.display().to_string())
                );
            }
        }
    }
    if args.deny_warnings && !warnings.is_empty() {
        return Err(CliError::validation(
            format!(
                "{} {} and --deny-warnings is set: fix them",
                warnings.len(),
                if warnings.len() == 1 {
                    "warning"
                } else {
                    "warnings"
                }
            ),
            Vec::new(),
        ));
    }
    Ok(exit::OK)
}

/// Formats (or checks the format of) every policy file of a directory.
pub fn format(args: &FormatArgs) -> CliResult {
    let files = cedar_files(&args.policies)?;
    let mut unformatted = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            CliError::new(format!(
                "cannot read `{}`: {}: check the path",
                file.display(),
                io_reason(&e)
            ))
        })?;
        let formatted = format_policies(&text).map_err(|e| match e {
            FormatError::Syntax(d) => CliError::validation(
                format!(
                    "`{}` does not parse: fix it, then format again",
                    file.display()
                ),
                d.into_iter()
                    .map(|mut d| {
                        d.file = file.clone();
                        d.to_string()
                    })
                    .collect(),
            ),
            other => CliError::new(format!("`{}`: {other}", file.display())),
        })?;
        if args.check {
            if formatted != text {
                println!("{} is not formatted", file.display());
                unformatted.push(file.display().to_string());
            }
        } else if args.write {
            if formatted != text {
                std::fs::write(file, &formatted).map_err(|e| {
                    CliError::new(format!(
                        "cannot write `{}`: {}: check its permissions",
                        file.display(),
                        io_reason(&e)
                    ))
                })?;
                eprintln!("formatted {}", file.display());
            }
        } else {
            println!("// {}", file.display());
            print!("{formatted}");
        }
    }
    if !unformatted.is_empty() {
        return Err(CliError::validation(
            format!(
                "{} of {} policy files are not formatted: run `valet format -p {} --write`",
                unformatted.len(),
                files.len(),
                args.policies.display()
            ),
            Vec::new(),
        ));
    }
    Ok(exit::OK)
}

/// Runs the policy tests of a directory.
pub fn run_tests(args: &RunTestsArgs, output: Output) -> CliResult {
    let store = load(&args.policies, None)?;
    let tests = args
        .tests
        .clone()
        .unwrap_or_else(|| args.policies.join("tests"));
    let report = if tests.is_file() {
        testing::run_file(&store, &tests)
    } else {
        testing::run_dir(&store, &tests)
    }
    .map_err(|e| match e {
        PolicyError::Io { path, source } => CliError::new(format!(
            "cannot read the policy tests `{}`: {}: give a directory of `*.json` test files with `--tests`",
            path.display(),
            io_reason(&source)
        )),
        other => CliError::new(other.to_string()),
    })?;
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "passed": report.passed(),
                "failed": report.failed(),
                "cases": report.cases,
            })
        ),
        Output::Text => print!("{}", escape_lines(&report.to_string())),
    }
    if report.cases.is_empty() {
        return Err(CliError::new(format!(
            "no test case found in `{}`: add `*.json` files in the `cedar run-tests` shape",
            tests.display()
        )));
    }
    Ok(if report.is_success() {
        exit::OK
    } else {
        exit::VALIDATION
    })
}
