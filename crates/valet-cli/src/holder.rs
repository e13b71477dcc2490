//! `valet prove` and `valet approve`, and reading agents' and approvers' keys.

use std::path::Path;
use std::time::{Duration, SystemTime};

use valet_token::{Approval, HolderProof, KeyError, Limits, Request, SigningKey, VerifyingKey};

use crate::args::{ApproveArgs, KeypairArgs, ProveArgs};
use crate::error::{exit, CliError, CliResult};
use crate::input::{io_reason, read_file, read_token};
use crate::times::Ttl;

/// Reads an agent's or approver's private key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, CliError> {
    SigningKey::read_file(path).map_err(|e| key_error(path, "private key", &e))
}

/// Reads an agent's or approver's public key file.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, CliError> {
    VerifyingKey::read_file(path).map_err(|e| key_error(path, "public key", &e))
}

fn key_error(path: &Path, what: &str, e: &KeyError) -> CliError {
    match e {
        KeyError::Io { source, .. } => CliError::new(format!(
            "cannot read the {what} file `{}`: {}: check the path, or create one with `valet keypair --kind agent`",
            path.display(),
            io_reason(source)
        )),
        KeyError::Format(m) => {
            let prefix = format!("{}: ", path.display());
            let m = m.strip_prefix(&prefix).unwrap_or(m);
            CliError::new(format!(
                "`{}` is not a valet {what} file: {m}: create one with `valet keypair --kind agent`",
                path.display()
            ))
        }
        other => CliError::new(other.to_string()),
    }
}

/// Reads a request JSON file.
pub fn read_request(path: &Path) -> Result<Request, CliError> {
    let text = read_file(path, "request file")?;
    Request::from_json(&text, &Limits::default()).map_err(|e| {
        CliError::new(format!(
            "`{}` is not a valid request: {e}: write `{{\"audience\": URI, \"action\": NAME, \"authorization_details\": {{...}}}}`",
            path.display()
        ))
    })
}

/// Reads a proof of possession file (as `valet prove` prints it).
pub fn read_proof(path: &Path) -> Result<HolderProof, CliError> {
    let text = read_file(path, "proof file")?;
    HolderProof::from_json(&text).map_err(|e| {
        CliError::new(format!(
            "`{}`: {e}: create the proof with `valet prove`",
            path.display()
        ))
    })
}

/// Reads an approval file (as `valet approve` prints it).
pub fn read_approval(path: &Path) -> Result<Approval, CliError> {
    let text = read_file(path, "approval file")?;
    Approval::from_json(&text).map_err(|e| {
        CliError::new(format!(
            "`{}`: {e}: create the approval with `valet approve`",
            path.display()
        ))
    })
}

/// Signs a proof of possession for one request with one token.
pub fn prove(args: &ProveArgs) -> CliResult {
    let token = read_token(&args.token)?;
    let key = read_signing_key(&args.private_key_file)?;
    let request = read_request(&args.request_json)?;
    let now = args.now.unwrap_or_else(SystemTime::now);
    let proof = match &args.nonce {
        Some(n) => HolderProof::sign_with_nonce(&key, &token, &request, now, n.as_str()),
        None => HolderProof::sign(&key, &token, &request, now),
    }
    .map_err(|e| CliError::new(format!("cannot sign the proof: {e}")))?;
    if let Ok(claims) = token.unverified_claims() {
        match claims.holder {
            Some(h) if h != key.public() => eprintln!(
                "warning: the token is bound to {h}, not to this key ({}): the proof will be refused",
                key.public()
            ),
            None => eprintln!(
                "warning: the token binds no holder key, so a proof sent with it is refused: send the token alone, or mint it with --holder-key-file"
            ),
            _ => {}
        }
    }
    let json = proof
        .to_json()
        .map_err(|e| CliError::new(format!("cannot write the proof: {e}")))?;
    println!("{json}");
    Ok(exit::OK)
}

/// Signs an approval of one exact request made with one token.
pub fn approve(args: &ApproveArgs) -> CliResult {
    let key = read_signing_key(&args.private_key_file)?;
    let request = read_request(&args.request_json)?;
    let token = read_token(&args.token)?;
    let claimed = token
        .unverified_claims()
        .map_err(|e| CliError::new(format!("cannot read the token's subject: {e}")))?
        .subject;
    let subject = match &args.subject {
        Some(s) if *s != claimed => {
            return Err(CliError::new(format!(
                "the token acts for `{claimed}`, not `{s}`: approve with the token of `{s}`'s agent, or leave out `--subject`"
            )))
        }
        _ => claimed,
    };
    let now = args.now.unwrap_or_else(SystemTime::now);
    let expires = match args.add_ttl {
        Ttl::In(d) => now + d,
        Ttl::At(t) => t,
    };
    if expires <= now {
        return Err(CliError::new(
            "the approval's expiry is not in the future: give a positive `--add-ttl`, like `5m`",
        ));
    }
    if expires > now + Duration::from_secs(24 * 3600) {
        return Err(CliError::new(
            "an approval should be short-lived: give an `--add-ttl` of at most a day (verifiers accept 15 minutes by default)",
        ));
    }
    let approval = Approval::sign(&key, subject, &token, &request, expires)
        .map_err(|e| CliError::new(format!("cannot sign the approval: {e}")))?;
    let json = approval
        .to_json()
        .map_err(|e| CliError::new(format!("cannot write the approval: {e}")))?;
    println!("{json}");
    Ok(exit::OK)
}

/// `valet keypair --kind agent|approver`: an Ed25519 key pair without a key id.
pub fn keypair(args: &KeypairArgs) -> CliResult {
    let write_error = |e: KeyError| match e {
        KeyError::Io { path, source } => CliError::new(format!(
            "cannot write `{path}`: {}: check that its directory exists and is writable",
            io_reason(&source)
        )),
        KeyError::Exists(path) => CliError::new(format!(
            "`{path}` already exists: remove it or pass --force to overwrite it"
        )),
        other => CliError::new(other.to_string()),
    };
    let (key, fresh) = match (&args.from_private_key_file, &args.private_key_file) {
        (Some(from), _) => (read_signing_key(from)?, None),
        (None, Some(path)) => {
            if args.public_key_file.as_ref() == Some(path) {
                return Err(CliError::new(
                    "the private and public key files must be different files",
                ));
            }
            if let Some(public) = &args.public_key_file {
                if !args.force && public.exists() {
                    return Err(write_error(KeyError::Exists(public.display().to_string())));
                }
            }
            let key = SigningKey::generate();
            key.write_private_file(path, args.force)
                .map_err(write_error)?;
            (key, Some(path))
        }
        (None, None) => {
            return Err(CliError::new(
                "say where to write the private key with `--private-key-file FILE`, or read an existing one with `--from-private-key-file FILE`",
            ))
        }
    };
    let public = key.public();
    match (&args.public_key_file, args.only_public_key) {
        (Some(path), false) => {
            public.write_file(path, args.force).map_err(write_error)?;
            if let Some(private) = fresh {
                eprintln!(
                    "wrote private key {} (mode 0600) and public key {} ({public})",
                    private.display(),
                    path.display()
                );
            } else {
                eprintln!("wrote public key {} ({public})", path.display());
            }
        }
        _ => {
            if let Some(private) = fresh {
                eprintln!(
                    "wrote private key {} (mode 0600); the public key follows",
                    private.display()
                );
            }
            print!("{}", public.to_text());
        }
    }
    Ok(exit::OK)
}
