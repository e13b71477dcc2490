//! A config made into a proxy: the files it names read (keys, policies, entity data),
//! the authorizer and the layer built. Nothing listens yet.

use std::sync::Arc;

use valet::{
    Authorizer, EntitiesFile, KeySet, PolicyError, PolicyStore, RootPublicKey, VerifyingKey,
};
use valet_http::ValetLayer;

use crate::audit::{self, Purpose};
use crate::config::{Config, Named};
use crate::error::{io_reason, ConfigError, Problem, Severity};
use crate::stores::stores;

/// A proxy ready to listen: its config, and the layer that judges every request, built
/// from the keys, policies and entity data the config names.
pub struct Proxy {
    pub(crate) config: Config,
    pub(crate) layer: ValetLayer,
    warnings: Vec<Problem>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Reads every file the config names (root and approver keys, the revocation list,
    /// the policies, the entity data), opens the audit output, and builds the authorizer
    /// and the layer. Every problem found is reported at the key that names the file.
    pub fn new(config: Config) -> Result<Proxy, ConfigError> {
        assemble(config, Purpose::Serve)
    }

    /// What [`new`](Self::new) checks, without creating the audit file: the warnings, or
    /// every problem that keeps the proxy from starting.
    pub fn check(config: &Config) -> Result<Vec<Problem>, ConfigError> {
        assemble(config.clone(), Purpose::Check).map(|p| p.warnings)
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The layer (its authorizer reloads policies and revokes tokens).
    pub fn layer(&self) -> &ValetLayer {
        &self.layer
    }

    /// What the config and the files it names say that is probably not what was meant.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }
}

fn assemble(config: Config, purpose: Purpose) -> Result<Proxy, ConfigError> {
    let mut problems = config.warnings.clone();
    let keys = root_keys(&config, &mut problems);
    let approvers: Vec<VerifyingKey> = config
        .approver_keys
        .iter()
        .filter_map(|n| approver_key(n, &mut problems))
        .collect();
    let store = policies(&config.policies, &mut problems);
    let entities = match (&store, &config.entities) {
        (Some(store), Some(named)) => entities(named, store, &config.policies, &mut problems),
        _ => None,
    };
    if let Some(store) = &store {
        let actions = store.action_names();
        for m in &config.mapped {
            if !actions.contains(&m.name) {
                problems.push(Problem::warning(
                    m.at.clone(),
                    format!(
                        "`{}` is not an action of the schema in `{}`: every call of it is denied; declare the action in the schema, or check the name",
                        m.name,
                        config.policies.path.display()
                    ),
                ));
            }
        }
    }
    let audit = match audit::sink(&config.audit, purpose) {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(Problem::error(config.audit_at.clone(), e));
            None
        }
    };
    let stores = stores(&config, purpose, &mut problems);
    let failed = problems.iter().any(|p| p.severity == Severity::Error);
    let (Some(store), Some(audit), Some(stores), false) = (store, audit, stores, failed) else {
        return Err(ConfigError::invalid(config.file.clone(), problems));
    };
    let mut builder = Authorizer::builder(keys, store).audit(audit);
    if let Some(e) = entities {
        builder = builder.entities(Arc::new(e));
    }
    for a in approvers {
        builder = builder.approver(a);
    }
    let authorizer = stores.apply(builder).build();
    let layer = ValetLayer::builder(config.resource.clone(), authorizer)
        .extractor(config.tools.clone())
        .max_body_bytes(config.max_body_bytes)
        .build();
    Ok(Proxy {
        config,
        layer,
        warnings: problems,
    })
}

/// The trusted root keys; a file that cannot be read, or a second key with the same id,
/// is a problem where the file is named.
fn root_keys(config: &Config, problems: &mut Vec<Problem>) -> KeySet {
    let mut keys = KeySet::new();
    for named in &config.root_keys {
        match RootPublicKey::read_file(&named.path) {
            Ok(key) if keys.get(key.id()).is_some() => problems.push(Problem::error(
                named.at.clone(),
                format!(
                    "`{}` has key id {}, as an earlier root key has: give each root key its own id (`valet keypair --key-id N`)",
                    named.path.display(),
                    key.id()
                ),
            )),
            Ok(key) => keys.insert(key),
            Err(e) => problems.push(Problem::error(
                named.at.clone(),
                key_message(named, "root public key", "valet keypair", &e),
            )),
        }
    }
    keys
}

fn approver_key(named: &Named, problems: &mut Vec<Problem>) -> Option<VerifyingKey> {
    VerifyingKey::read_file(&named.path)
        .map_err(|e| {
            problems.push(Problem::error(
                named.at.clone(),
                key_message(
                    named,
                    "approver public key",
                    "valet keypair --kind approver",
                    &e,
                ),
            ))
        })
        .ok()
}

fn key_message(named: &Named, what: &str, create: &str, e: &valet::token::KeyError) -> String {
    let path = named.path.display();
    match e {
        valet::token::KeyError::Io { source, .. } => format!(
            "cannot read the {what} file `{path}`: {}: check the path (relative paths are read from the config file's directory), or create one with `{create}`",
            io_reason(source)
        ),
        valet::token::KeyError::Format(m) => {
            let prefix = format!("{path}: ");
            let m = m.strip_prefix(&prefix).unwrap_or(m);
            format!("`{path}` is not a valet {what} file: {m}: create one with `{create}`")
        }
        other => format!("`{path}`: {other}"),
    }
}

fn policies(named: &Named, problems: &mut Vec<Problem>) -> Option<Arc<PolicyStore>> {
    let dir = named.path.display();
    match PolicyStore::load(&named.path) {
        Ok(store) => {
            let warnings = store.warnings();
            if !warnings.is_empty() {
                problems.push(
                    Problem::warning(
                        named.at.clone(),
                        format!("the policies in `{dir}` validate with {} warnings: run `valet validate -p {dir}`", warnings.len()),
                    )
                    .details(warnings.iter().map(ToString::to_string).collect()),
                );
            }
            Some(Arc::new(store))
        }
        Err(PolicyError::Diagnostics(d)) => {
            problems.push(
                Problem::error(
                    named.at.clone(),
                    format!(
                        "the policies in `{dir}` do not validate ({} {}): fix them and run `valet validate -p {dir}`",
                        d.len(),
                        if d.len() == 1 { "error" } else { "errors" }
                    ),
                )
                .details(d.iter().map(ToString::to_string).collect()),
            );
            None
        }
        Err(PolicyError::Io { path, source }) => {
            problems.push(Problem::error(
                named.at.clone(),
                format!(
                    "cannot read the policy directory `{dir}` ({}: {}): give a directory holding `*.cedar` files and `schema.cedarschema` (relative paths are read from the config file's directory)",
                    path.display(),
                    io_reason(&source)
                ),
            ));
            None
        }
        Err(other) => {
            problems.push(Problem::error(named.at.clone(), other.to_string()));
            None
        }
    }
}

fn entities(
    named: &Named,
    store: &PolicyStore,
    policies: &Named,
    problems: &mut Vec<Problem>,
) -> Option<EntitiesFile> {
    let path = named.path.display();
    if let Err(e) = std::fs::File::open(&named.path) {
        problems.push(Problem::error(
            named.at.clone(),
            format!(
                "cannot read the entities file `{path}`: {}: check the path (relative paths are read from the config file's directory)",
                io_reason(&e)
            ),
        ));
        return None;
    }
    EntitiesFile::load(&named.path, store)
        .map_err(|e| {
            let prefix = format!("entities file `{path}`: ");
            let reason = e.message().strip_prefix(&prefix).unwrap_or(e.message());
            problems.push(Problem::error(
                named.at.clone(),
                format!(
                    "the entities file `{path}` cannot be used with the policies in `{}`: {reason}: give a JSON array of Cedar entities of the types and with the attributes the schema declares",
                    policies.path.display()
                ),
            ));
        })
        .ok()
}
