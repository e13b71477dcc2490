//! `valet keypair`.

use valet_token::{KeyError, KeyId, RootKeyPair};

use crate::args::KeypairArgs;
use crate::error::{exit, CliError, CliResult};
use crate::input::{io_reason, read_private_key};

/// Creates a key pair, or shows the public half of an existing one.
pub fn keypair(args: &KeypairArgs) -> CliResult {
    if args.kind != crate::args::KeyKind::Root {
        return crate::holder::keypair(args);
    }
    if let Some(from) = &args.from_private_key_file {
        let pair = read_private_key(from)?;
        let public = pair.public();
        match (&args.public_key_file, args.only_public_key) {
            (Some(path), false) => {
                public
                    .write_file(path, args.force)
                    .map_err(|e| write_error(&e))?;
                eprintln!(
                    "wrote public key {} (key id {})",
                    path.display(),
                    public.id()
                );
            }
            _ => print!("{}", public.to_text()),
        }
        return Ok(exit::OK);
    }
    let Some(private_path) = &args.private_key_file else {
        return Err(CliError::new(
            "say where to write the private key with `--private-key-file FILE`, or read an existing one with `--from-private-key-file FILE`",
        ));
    };
    if let Some(public_path) = &args.public_key_file {
        if public_path == private_path {
            return Err(CliError::new(
                "the private and public key files must be different files",
            ));
        }
        if !args.force && public_path.exists() {
            return Err(write_error(&KeyError::Exists(
                public_path.display().to_string(),
            )));
        }
    }
    let pair = RootKeyPair::generate(KeyId(args.key_id));
    pair.write_private_file(private_path, args.force)
        .map_err(|e| write_error(&e))?;
    let public = pair.public();
    match &args.public_key_file {
        Some(path) => {
            public
                .write_file(path, args.force)
                .map_err(|e| write_error(&e))?;
            eprintln!(
                "wrote private key {} (mode 0600) and public key {} (key id {})",
                private_path.display(),
                path.display(),
                public.id()
            );
        }
        None => {
            eprintln!(
                "wrote private key {} (mode 0600); the public key (key id {}) follows",
                private_path.display(),
                public.id()
            );
            print!("{}", public.to_text());
        }
    }
    Ok(exit::OK)
}

fn write_error(e: &KeyError) -> CliError {
    match e {
        KeyError::Io { path, source } => CliError::new(format!(
            "cannot write `{path}`: {}: check that its directory exists and is writable",
            io_reason(source)
        )),
        KeyError::Exists(path) => CliError::new(format!(
            "`{path}` already exists: remove it or pass --force to overwrite it"
        )),
        other => CliError::new(other.to_string()),
    }
}
