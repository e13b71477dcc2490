//! The resource server's entity data: what a decision asks of it ([`EntityLookup`]), the
//! trait that answers ([`EntityProvider`]), and the built-in answers: entities held in
//! memory ([`EntityData`]) and a Cedar entities JSON file reloadable at once
//! ([`EntitiesFile`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use cedar_policy::{Entities, Entity, EntityUid, EvalResult};

use crate::loaded::Loaded;
use crate::store::PolicyStore;

/// What one decision needs of the entity data: the entities its Cedar requests name.
///
/// A provider returns these entities with what policies can read through them: their
/// attributes, their parents and ancestors (for `in`), and the entities their attributes
/// refer to. Anything else it returns is kept too, but costs time.
#[derive(Clone, Copy, Debug)]
pub struct EntityLookup<'a> {
    pub(crate) agents: &'a [EntityUid],
    pub(crate) person: Option<&'a EntityUid>,
    pub(crate) resources: &'a [EntityUid],
    pub(crate) deadline: Instant,
}

impl<'a> EntityLookup<'a> {
    /// The principal of each step of the delegation chain, the acting agent first. Entity
    /// data may give agents parents; their attributes are Valet's (see the crate docs).
    pub fn agents(&self) -> &'a [EntityUid] {
        self.agents
    }

    /// The person the agent acts for, when the schema has a `@valet("person")` type.
    pub fn person(&self) -> Option<&'a EntityUid> {
        self.person
    }

    /// The resources the request acts on.
    pub fn resources(&self) -> &'a [EntityUid] {
        self.resources
    }

    /// When the answer is due. An answer after it is a deny, so a provider that can block
    /// (on a network, a database) should give up by then.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Every entity the lookup names: the agents, the person, the resources.
    pub fn uids(&self) -> impl Iterator<Item = &'a EntityUid> + 'a {
        self.agents
            .iter()
            .chain(self.person)
            .chain(self.resources.iter())
    }
}

/// Why entity data could not be given. Any such error is a deny that quotes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EntityError {
    message: String,
}

impl EntityError {
    /// An error with this message, in the words of whoever reads the denial.
    pub fn new(message: impl Into<String>) -> Self {
        EntityError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Entity data that Valet's own providers ([`EntityData`], [`EntitiesFile`]) validated
/// against one load of the schema when they read it: only they can give one, so that what
/// any other provider gives is always validated. A decision reads such data directly,
/// without copying its entities.
#[derive(Clone, Debug)]
pub struct Validated(pub(crate) Arc<Held>);

/// A source of the resource server's entities: its people, teams, folders, owners.
///
/// Called once per decision that has entity data, from the thread making the decision.
/// Whatever it returns is validated against the schema; an error, an answer after
/// [`EntityLookup::deadline`] or an entity that does not fit the schema is a deny that
/// says so.
pub trait EntityProvider: Send + Sync {
    /// The entities `lookup` names, with their ancestors and the entities their
    /// attributes refer to.
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError>;

    /// Whether the entities were validated against the schema in force when the provider
    /// read them, so that they need not be validated again for each decision. Only
    /// Valet's own providers can answer `Some` ([`Validated`] cannot be made elsewhere);
    /// the default, `None`, has everything validated.
    fn validated(&self) -> Option<Validated> {
        None
    }
}

impl<P: EntityProvider + ?Sized> EntityProvider for Arc<P> {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        (**self).entities(lookup)
    }

    fn validated(&self) -> Option<Validated> {
        (**self).validated()
    }
}

/// How many entities one lookup in [`EntityData`] gathers at most. A lookup that needs more
/// is an error (a deny).
pub const MAX_GATHERED_ENTITIES: usize = 4096;

/// Entities held in memory, validated against a schema when built. A lookup copies only
/// what the request needs: the entities it names, their ancestors, and the entities their
/// attributes refer to, transitively.
#[derive(Clone, Debug)]
pub struct EntityData {
    held: Arc<Held>,
}

/// What an [`EntityData`] holds, shared by its clones and by decisions reading it.
#[derive(Debug)]
pub(crate) struct Held {
    entities: Entities,
    /// Where each entity is in `linked`.
    index: foldhash::HashMap<EntityUid, u32>,
    /// Each entity, shared, with the held entities it reaches directly (by their place in
    /// `linked`): its ancestors (the hierarchy closed when the data was read) and those its
    /// attributes refer to.
    linked: Vec<Linked>,
    /// The load of the schema the entities were validated against.
    pub(crate) generation: u64,
}

#[derive(Debug)]
struct Linked {
    entity: Arc<cedar_policy_core::ast::Entity>,
    reaches: Vec<u32>,
}

impl EntityData {
    /// Entities in Cedar's JSON entity format (an array of
    /// `{"uid": {...}, "attrs": {...}, "parents": [...]}`), validated against the store's
    /// schema.
    ///
    /// Entities of the agent type give agents parents only: their attributes are Valet's
    /// to fill from the token, so an agent entity with attributes is refused.
    pub fn from_json_value(
        json: serde_json::Value,
        store: &PolicyStore,
    ) -> Result<EntityData, EntityError> {
        let loaded = store.snapshot();
        Self::from_json_with_schema(json, &loaded)
    }

    /// [`from_json_value`](Self::from_json_value) from JSON text.
    pub fn from_json_str(text: &str, store: &PolicyStore) -> Result<EntityData, EntityError> {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| EntityError::new(format!("the entity data is not JSON: {e}")))?;
        Self::from_json_value(json, store)
    }

    pub(crate) fn from_json_with_schema(
        json: serde_json::Value,
        loaded: &Loaded,
    ) -> Result<EntityData, EntityError> {
        let schema = &loaded.schema;
        let agent = &loaded.model.agent;
        let serde_json::Value::Array(items) = json else {
            return Err(EntityError::new(
                "the entity data must be a JSON array of entities, as the `cedar` CLI reads them",
            ));
        };
        let agent_name = agent.to_string();
        let (agents, others): (Vec<serde_json::Value>, Vec<serde_json::Value>) =
            items.into_iter().partition(|e| {
                e.get("uid")
                    .and_then(|u| u.get("type"))
                    .and_then(serde_json::Value::as_str)
                    == Some(agent_name.as_str())
            });
        let unfit = |e: &dyn miette::Diagnostic| {
            EntityError::new(format!(
                "the entity data does not fit the schema: {}",
                crate::error::full_message(e)
            ))
        };
        let mut agent_entities = Vec::with_capacity(agents.len());
        for value in agents {
            let entity = Entity::from_json_value(value, None).map_err(|e| unfit(&e))?;
            if entity.attrs().next().is_some() || entity.tags().next().is_some() {
                return Err(EntityError::new(format!(
                    "the entity data gives agent `{}` attributes, but an agent's attributes are filled by Valet from the token: give agents parents only",
                    entity.uid()
                )));
            }
            let (uid, _, parents) = entity.clone().into_inner();
            if let Some(parent) = parents
                .iter()
                .find(|p| !loaded.model.agent_parents.contains(p.type_name()))
            {
                return Err(EntityError::new(format!(
                    "the entity data puts agent `{uid}` in `{parent}`, but the schema does not let `{agent}` be in a `{}`: add it to the agent type's `in [...]` or change the data",
                    parent.type_name()
                )));
            }
            agent_entities.push(entity);
        }
        let entities = Entities::from_json_value(serde_json::Value::Array(others), Some(schema))
            .map_err(|e| unfit(&e))?;
        let entities = entities
            .add_entities(agent_entities, None)
            .map_err(|e| unfit(&e))?;
        let too_many = || {
            EntityError::new(format!(
                "the entity data holds more than {} entities: split it, or serve the entities through a provider",
                u32::MAX
            ))
        };
        let all: Vec<&Entity> = entities.iter().collect();
        let mut index = foldhash::HashMap::default();
        for (place, entity) in all.iter().enumerate() {
            index.insert(entity.uid(), u32::try_from(place).map_err(|_| too_many())?);
        }
        let mut linked = Vec::with_capacity(all.len());
        for entity in all {
            let uid = entity.uid();
            let mut names: Vec<EntityUid> = entities
                .ancestors(&uid)
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            for (_, value) in entity.attrs() {
                if let Ok(value) = value {
                    referenced(&value, &mut names);
                }
            }
            // Only held entities can be gathered: the others are left out here once.
            let mut reaches: Vec<u32> =
                names.iter().filter_map(|n| index.get(n).copied()).collect();
            reaches.sort_unstable();
            reaches.dedup();
            let shared = Arc::new(AsRef::<cedar_policy_core::ast::Entity>::as_ref(entity).clone());
            linked.push(Linked {
                entity: shared,
                reaches,
            });
        }
        Ok(EntityData {
            held: Arc::new(Held {
                entities,
                index,
                linked,
                generation: loaded.generation,
            }),
        })
    }

    /// How many entities are held (the schema's actions included).
    pub fn len(&self) -> usize {
        self.held.entities.iter().count()
    }

    /// Whether no entity is held.
    pub fn is_empty(&self) -> bool {
        self.held.entities.iter().next().is_none()
    }

    /// The entities `lookup` needs: those it names, their ancestors, and the entities
    /// their attributes refer to, transitively.
    pub fn gather(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        Ok(self
            .held
            .gather_shared(lookup)?
            .into_iter()
            .map(|e| Entity::from((*e).clone()))
            .collect())
    }
}

impl Held {
    /// The entities `lookup` needs, shared rather than copied.
    pub(crate) fn gather_shared(
        &self,
        lookup: &EntityLookup<'_>,
    ) -> Result<Vec<Arc<cedar_policy_core::ast::Entity>>, EntityError> {
        let mut out = Vec::new();
        let mut seen: foldhash::HashSet<u32> = foldhash::HashSet::default();
        let mut todo: Vec<u32> = lookup
            .uids()
            .filter_map(|uid| self.index.get(uid).copied())
            .collect();
        while let Some(place) = todo.pop() {
            let Some(linked) = self.linked.get(place as usize) else {
                continue;
            };
            if !seen.insert(place) {
                continue;
            }
            if out.len() >= MAX_GATHERED_ENTITIES {
                return Err(EntityError::new(format!(
                    "this request reaches more than {MAX_GATHERED_ENTITIES} entities of the entity data through parents and attributes: split the data or the hierarchy"
                )));
            }
            todo.extend(linked.reaches.iter().filter(|r| !seen.contains(r)));
            out.push(Arc::clone(&linked.entity));
        }
        Ok(out)
    }
}

/// Pushes the entities a value refers to.
fn referenced(value: &EvalResult, out: &mut Vec<EntityUid>) {
    match value {
        EvalResult::EntityUid(uid) => out.push(uid.clone()),
        EvalResult::Set(set) => {
            for v in set.iter() {
                referenced(v, out);
            }
        }
        EvalResult::Record(record) => {
            for (_, v) in record.iter() {
                referenced(v, out);
            }
        }
        _ => {}
    }
}

impl EntityProvider for EntityData {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        self.gather(lookup)
    }

    fn validated(&self) -> Option<Validated> {
        Some(Validated(Arc::clone(&self.held)))
    }
}

/// A Cedar entities JSON file (the format the `cedar` CLI reads), validated against the
/// store's schema, and reloaded at once: a decision sees the old data or the new, never a
/// mix, and a reload that fails keeps the old.
pub struct EntitiesFile {
    path: PathBuf,
    current: RwLock<Arc<EntityData>>,
}

impl fmt::Debug for EntitiesFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntitiesFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The largest entities file read, in bytes (64 MiB).
pub const MAX_ENTITIES_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl EntitiesFile {
    /// Reads and validates the file against the store's schema.
    pub fn load(path: impl AsRef<Path>, store: &PolicyStore) -> Result<EntitiesFile, EntityError> {
        let path = path.as_ref().to_path_buf();
        let data = read_file(&path, store)?;
        Ok(EntitiesFile {
            path,
            current: RwLock::new(Arc::new(data)),
        })
    }

    /// Reads the file again and, if it is valid against the store's schema, replaces the
    /// data at once. On any error the data in force stays as it was.
    pub fn reload(&self, store: &PolicyStore) -> Result<(), EntityError> {
        let data = Arc::new(read_file(&self.path, store)?);
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *guard = data;
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data in force.
    pub fn data(&self) -> Arc<EntityData> {
        let guard = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }
}

fn read_file(path: &Path, store: &PolicyStore) -> Result<EntityData, EntityError> {
    let shown = path.display();
    let len = fs::metadata(path)
        .map_err(|e| EntityError::new(format!("cannot read entities file `{shown}`: {e}")))?
        .len();
    if len > MAX_ENTITIES_FILE_BYTES {
        return Err(EntityError::new(format!(
            "entities file `{shown}` is {len} bytes, more than the limit of {MAX_ENTITIES_FILE_BYTES}: split it, or serve the entities through a provider"
        )));
    }
    let text = fs::read_to_string(path)
        .map_err(|e| EntityError::new(format!("cannot read entities file `{shown}`: {e}")))?;
    EntityData::from_json_str(&text, store)
        .map_err(|e| EntityError::new(format!("entities file `{shown}`: {}", e.message())))
}

impl EntityProvider for EntitiesFile {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        self.data().gather(lookup)
    }

    fn validated(&self) -> Option<Validated> {
        Some(Validated(Arc::clone(&self.data().held)))
    }
}
