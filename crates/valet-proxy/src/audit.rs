//! Where audit records go: one JSON line per decision, on standard output, standard error
//! or appended to a file.

use std::io::Write;
use std::sync::Arc;

use valet::{AuditRecord, AuditSink, JsonLinesAudit, NoAudit};

use crate::config::AuditOutput;
use crate::error::io_reason;

/// What the sink is for: a proxy that serves opens (and creates) the file; a check only
/// looks that it could, and creates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Serve,
    Check,
}

/// The sink for `output`, or what is wrong with it.
pub(crate) fn sink(output: &AuditOutput, purpose: Purpose) -> Result<Arc<dyn AuditSink>, String> {
    match output {
        AuditOutput::Stdout => Ok(Arc::new(StreamAudit::Stdout)),
        AuditOutput::Stderr => Ok(Arc::new(StreamAudit::Stderr)),
        AuditOutput::File(path) if purpose == Purpose::Serve => JsonLinesAudit::open(path)
            .map(|s| Arc::new(s) as Arc<dyn AuditSink>)
            .map_err(|e| match e {
                valet::Error::Io { source, .. } => format!(
                    "cannot open the audit file `{}` for appending: {}: check that its directory exists and is writable",
                    path.display(),
                    io_reason(&source)
                ),
                other => other.to_string(),
            }),
        AuditOutput::File(path) => {
            let problem = |e: &std::io::Error| {
                format!(
                    "cannot open the audit file `{}` for appending: {}: check that its directory exists and is writable",
                    path.display(),
                    io_reason(e)
                )
            };
            if path.exists() {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| problem(&e))?;
            } else {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => std::path::PathBuf::from("."),
                };
                if !dir.is_dir() {
                    return Err(problem(&std::io::Error::from(std::io::ErrorKind::NotFound)));
                }
            }
            Ok(Arc::new(NoAudit))
        }
    }
}

/// Writes each record as one line on a standard stream.
#[derive(Debug)]
enum StreamAudit {
    Stdout,
    Stderr,
}

impl AuditSink for StreamAudit {
    fn record(&self, record: &AuditRecord) -> Result<(), valet::Error> {
        let mut line = record.to_json_line();
        line.push('\n');
        // One write per line, under the stream's lock: concurrent records never interleave.
        let (written, name) = match self {
            StreamAudit::Stdout => (
                std::io::stdout().lock().write_all(line.as_bytes()),
                "standard output",
            ),
            StreamAudit::Stderr => (
                std::io::stderr().lock().write_all(line.as_bytes()),
                "standard error",
            ),
        };
        written.map_err(|source| valet::Error::Io {
            path: name.to_owned(),
            source,
        })
    }
}
