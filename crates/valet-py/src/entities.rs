//! The `entities` of an `Authorizer`: the resource server's entity data (people, teams,
//! resources, fleets), given as a list of entity dicts in Cedar's JSON shape, validated
//! against the schema when given, or as a callable asked once per decision.

use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{Entity, EntityUid};
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::PyTraverseError;
use serde_json::Value;
use valet::{EntityData, EntityError, EntityLookup, EntityProvider, PolicyStore};

use crate::convert::to_json;
use crate::errors::EntityError as PyEntityError;

/// Where an authorizer's entity data comes from.
enum Source {
    /// A list given in Python, validated against the schema; `set` swaps it at once.
    Data(RwLock<Arc<EntityData>>),
    /// A Python callable, asked with the entities each decision names.
    Callable(Py<PyAny>),
}

/// The entity data of an `Authorizer`, as its policies read it.
pub(crate) struct Entities {
    source: Source,
}

impl Entities {
    /// Reads the `entities` argument: a list (or tuple) of entity dicts, validated
    /// against the store's schema, or a callable. Raises `EntityError` for data that does
    /// not fit, `TypeError` for anything else.
    pub(crate) fn from_arg(obj: &Bound<'_, PyAny>, store: &PolicyStore) -> PyResult<Entities> {
        if is_list(obj) {
            let data = read_list(obj, store)?;
            return Ok(Entities {
                source: Source::Data(RwLock::new(Arc::new(data))),
            });
        }
        if obj.is_callable() {
            return Ok(Entities {
                source: Source::Callable(obj.clone().unbind()),
            });
        }
        Err(PyTypeError::new_err(format!(
            "`entities` must be a list of entity dicts or a callable that returns one, not {}",
            type_name(obj)
        )))
    }

    /// Replaces a list of entities with another, validated against the store's schema: a
    /// decision sees the old list or the new one, never a mix; on any error the old one
    /// stays.
    pub(crate) fn set(&self, obj: &Bound<'_, PyAny>, store: &PolicyStore) -> PyResult<()> {
        let Source::Data(current) = &self.source else {
            return Err(PyEntityError::new_err(
                "this Authorizer asks its `entities` callable for entity data: change what the callable returns instead",
            ));
        };
        if !is_list(obj) {
            return Err(PyTypeError::new_err(format!(
                "`entities` must be a list of entity dicts, not {}",
                type_name(obj)
            )));
        }
        let data = Arc::new(read_list(obj, store)?);
        let mut guard = current.write().unwrap_or_else(PoisonError::into_inner);
        *guard = data;
        Ok(())
    }

    /// Visits the Python objects held, for Python's garbage collector.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        match &self.source {
            Source::Callable(f) => visit.call(f),
            Source::Data(_) => Ok(()),
        }
    }
}

impl EntityProvider for Entities {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        match &self.source {
            Source::Data(current) => {
                let data = Arc::clone(&current.read().unwrap_or_else(PoisonError::into_inner));
                data.gather(lookup)
            }
            // The decision runs without the GIL; the callable takes it for its call only.
            Source::Callable(f) => {
                Python::try_attach(|py| ask(py, f, lookup)).unwrap_or_else(|| {
                    Err(EntityError::new(
                        "the `entities` callable cannot be called while Python shuts down",
                    ))
                })
            }
        }
    }
}

/// Whether `obj` is a list or a tuple (a `str`, a dict or another iterable is not).
fn is_list(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an unknown type".to_owned(), |n| n.to_string())
}

/// A list of entity dicts, validated against the store's schema (without the GIL).
fn read_list(obj: &Bound<'_, PyAny>, store: &PolicyStore) -> PyResult<EntityData> {
    let unfit = |reason: &str| {
        PyEntityError::new_err(format!(
            "the `entities` do not fit the policies in `{}`: {reason}: give a list of entity dicts in Cedar's JSON shape, each {{\"uid\": {{\"type\": ..., \"id\": ...}}, \"attrs\": {{...}}, \"parents\": [...]}}, of the types and with the attributes the schema declares",
            store.dir().display()
        ))
    };
    let json = to_json(obj, "entities").map_err(|e| unfit(&e.to_string()))?;
    obj.py()
        .detach(|| EntityData::from_json_value(json, store))
        .map_err(|e| unfit(e.message()))
}

/// Asks the callable for the entities `lookup` names, and reads its answer as Cedar
/// entities; the policy layer then checks them against the schema.
fn ask(
    py: Python<'_>,
    f: &Py<PyAny>,
    lookup: &EntityLookup<'_>,
) -> Result<Vec<Entity>, EntityError> {
    let arg = lookup_dict(py, lookup).map_err(|e| {
        EntityError::new(format!(
            "the entities this request names cannot be given to the `entities` callable: {}",
            describe(py, &e)
        ))
    })?;
    let answer = f.bind(py).call1((arg,)).map_err(|e| {
        EntityError::new(format!(
            "the `entities` callable raised {}",
            describe(py, &e)
        ))
    })?;
    if !is_list(&answer) {
        return Err(EntityError::new(format!(
            "the `entities` callable returned {}: return a list of entity dicts in Cedar's JSON shape",
            type_name(&answer)
        )));
    }
    let items = match to_json(&answer, "") {
        Ok(Value::Array(items)) => items,
        Ok(_) => Vec::new(),
        Err(e) => {
            return Err(EntityError::new(format!(
                "the `entities` callable returned an entity Cedar cannot read: {e}"
            )))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            Entity::from_json_value(item, None).map_err(|e| {
                EntityError::new(format!(
                    "the `entities` callable returned an item [{i}] that is not a Cedar entity: {}: return dicts of the shape {{\"uid\": {{\"type\": ..., \"id\": ...}}, \"attrs\": {{...}}, \"parents\": [...]}}",
                    full_message(&e)
                ))
            })
        })
        .collect()
}

/// The callable's argument: `{"agents": [uid, ...], "person": uid | None, "resources":
/// [uid, ...]}`, each uid `{"type": ..., "id": ...}`.
fn lookup_dict<'py>(py: Python<'py>, lookup: &EntityLookup<'_>) -> PyResult<Bound<'py, PyDict>> {
    let uid = |u: &EntityUid| -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("type", u.type_name().to_string())?;
        d.set_item("id", u.id().unescaped())?;
        Ok(d)
    };
    let uids = |list: &[EntityUid]| -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for u in list {
            out.append(uid(u)?)?;
        }
        Ok(out)
    };
    let d = PyDict::new(py);
    d.set_item("agents", uids(lookup.agents())?)?;
    match lookup.person() {
        Some(p) => d.set_item("person", uid(p)?)?,
        None => d.set_item("person", py.None())?,
    }
    d.set_item("resources", uids(lookup.resources())?)?;
    Ok(d)
}

/// `Type: message` of a Python exception.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map_or_else(|_| "an exception".to_owned(), |n| n.to_string());
    let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if message.is_empty() {
        name
    } else {
        format!("{name}: {message}")
    }
}

/// An error's message with the messages of its sources.
fn full_message(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}
