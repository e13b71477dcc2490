//! `--entities`: the resource server's entity data (people, teams, resources, fleets), a
//! Cedar entities JSON file read against the policies' schema.

use std::path::Path;

use valet::{EntitiesFile, PolicyStore};

use crate::error::CliError;
use crate::input::io_reason;

/// Reads the entities file `path` against the schema of the policies in `policies`.
///
/// A file that cannot be read is an error that exits with 1; data that is not a JSON
/// array of entities fitting the schema becomes the error `invalid` makes of the message.
pub fn load(
    path: &Path,
    policies: &Path,
    store: &PolicyStore,
    invalid: impl FnOnce(String) -> CliError,
) -> Result<EntitiesFile, CliError> {
    std::fs::File::open(path).map_err(|e| {
        CliError::new(format!(
            "cannot read the entities file `{}`: {}: check the path",
            path.display(),
            io_reason(&e)
        ))
    })?;
    EntitiesFile::load(path, store).map_err(|e| {
        // The library's message starts by naming the file: say it once.
        let prefix = format!("entities file `{}`: ", path.display());
        let reason = e.message().strip_prefix(&prefix).unwrap_or(e.message());
        invalid(format!(
            "the entities file `{}` cannot be used with the policies in `{}`: {reason}: give a JSON array of Cedar entities, each `{{\"uid\": {{\"type\": ..., \"id\": ...}}, \"attrs\": {{...}}, \"parents\": [...]}}`, of the types and with the attributes the schema declares",
            path.display(),
            policies.display()
        ))
    })
}
