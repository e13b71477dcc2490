//! `valet revoke`.

use valet::FileRevocations;
use valet_token::RevocationId;

use crate::args::RevokeArgs;
use crate::error::{exit, CliError, CliResult};
use crate::input::io_reason;

/// Appends a revocation id to a file-backed revocation list.
pub fn revoke(args: &RevokeArgs) -> CliResult {
    let text = args.id.trim();
    let id = RevocationId::from_hex(text)
        .filter(|_| text.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            CliError::new(format!(
                "`{}` is not a revocation id: give the hex id of a block, as `valet inspect` prints it",
                args.id
            ))
        })?;
    FileRevocations::append(&args.list, &id).map_err(|e| match e {
        valet::Error::Io { path, source } => CliError::new(format!(
            "cannot append to the revocation list `{path}`: {}: check that its directory exists and is writable",
            io_reason(&source)
        )),
        other => CliError::new(other.to_string()),
    })?;
    eprintln!("revoked {id} in {}", args.list.display());
    Ok(exit::OK)
}
