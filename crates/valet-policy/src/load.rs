//! Reading a policy directory: its policy files and its schema, each within the size
//! limit, handed on to be parsed and validated.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::error::{LimitExceeded, PolicyError};
use crate::limits::PolicyLimits;
use crate::loaded::{load_sources, Loaded, PolicySource};

/// The name of the schema file in a policy directory.
pub const SCHEMA_FILE: &str = "schema.cedarschema";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PolicyError + '_ {
    move |source| PolicyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads one file, refusing it when it is over the size limit.
fn read_limited(path: &Path, max: u64) -> Result<String, PolicyError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let too_large = || {
        PolicyError::Limits(LimitExceeded::FileTooLarge {
            path: path.to_path_buf(),
            max,
        })
    };
    let len = file.metadata().map_err(io_error(path))?.len();
    if len > max {
        return Err(too_large());
    }
    let mut text = String::new();
    // The file may grow between the size check and the read.
    file.take(max.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(io_error(path))?;
    if text.len() as u64 > max {
        return Err(too_large());
    }
    Ok(text)
}

pub(crate) fn load_dir(dir: &Path, limits: PolicyLimits) -> Result<Loaded, PolicyError> {
    let mut policy_files = Vec::new();
    let mut schema_path = None;
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if !entry.file_type().map_err(io_error(&path))?.is_file() && !path.is_file() {
            continue;
        }
        if entry.file_name() == SCHEMA_FILE {
            schema_path = Some(path);
        } else if path.extension().is_some_and(|e| e == "cedar") {
            policy_files.push(path);
        }
    }
    policy_files.sort();
    if policy_files.len() > limits.max_files {
        return Err(LimitExceeded::TooManyFiles {
            dir: dir.to_path_buf(),
            count: policy_files.len(),
            max: limits.max_files,
        }
        .into());
    }
    let schema_path = schema_path.ok_or_else(|| PolicyError::NoSchema {
        dir: dir.to_path_buf(),
    })?;
    let schema_text = read_limited(&schema_path, limits.max_file_bytes)?;
    let mut sources = Vec::with_capacity(policy_files.len());
    for path in policy_files {
        let text: Arc<str> = read_limited(&path, limits.max_file_bytes)?.into();
        sources.push(PolicySource { file: path, text });
    }
    load_sources(&schema_path, &schema_text, &sources)
}
