//! Conversions between Python values and JSON values, exact for money: a `float` is never
//! accepted where a transaction or a limit is read, `decimal.Decimal` travels as its text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyMappingMethods, PyString, PyTuple, PyType,
};
use serde_json::{Map, Number, Value};

/// The deepest nesting read from Python (the request limit is lower; this only stops
/// runaway recursion before the Rust checks see the value).
const MAX_DEPTH: usize = 16;

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Why a Python value cannot become JSON; `path` names the field (`a.b[2]`).
#[derive(Debug)]
pub(crate) struct ConvertError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "field `{}` {}", self.path, self.problem)
        }
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an unknown type".to_owned(), |n| n.to_string())
}

/// Whether `obj` is a `decimal.Decimal`.
pub(crate) fn is_decimal(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let decimal = DECIMAL.import(obj.py(), "decimal", "Decimal")?;
    obj.is_instance(decimal)
}

/// Reads a Python value as JSON: `None`, `bool`, `int`, `str`, `decimal.Decimal` (as its
/// text), lists, tuples and dicts with `str` keys. A `float` or any other type is refused
/// with the field's path.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>, path: &str) -> Result<Value, ConvertError> {
    to_json_at(obj, path, 0)
}

fn to_json_at(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> Result<Value, ConvertError> {
    let err = |problem: String| ConvertError {
        path: path.to_owned(),
        problem,
    };
    if depth > MAX_DEPTH {
        return Err(err(format!("nests deeper than {MAX_DEPTH} levels")));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::String(s.to_owned()))
            .map_err(|_| err("is not valid text".into()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map(|i| Value::Number(Number::from(i)))
            .map_err(|_| err("is an integer too large for 64 bits".into()));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Err(err(format!(
            "is the float {}, which cannot carry an exact amount: pass a str such as \"50.00\" or a decimal.Decimal",
            obj.str().map_or_else(|_| "?".to_owned(), |s| s.to_string())
        )));
    }
    if let Some(items) = mapping_items(obj).map_err(|e| err(e.to_string()))? {
        let mut map = Map::with_capacity(items.len());
        for (k, v) in items {
            let key = k
                .cast::<PyString>()
                .map_err(|_| {
                    err(format!(
                        "has a key of type {}: keys must be str",
                        type_name(&k)
                    ))
                })?
                .to_str()
                .map_err(|_| err("has a key that is not valid text".into()))?
                .to_owned();
            let value = to_json_at(&v, &child(path, &key), depth.saturating_add(1))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in obj
            .try_iter()
            .map_err(|_| err("cannot be iterated".into()))?
            .enumerate()
        {
            let item = item.map_err(|e| err(e.to_string()))?;
            items.push(to_json_at(
                &item,
                &format!("{path}[{i}]"),
                depth.saturating_add(1),
            )?);
        }
        return Ok(Value::Array(items));
    }
    if is_decimal(obj).map_err(|e| err(e.to_string()))? {
        let text = obj.str().map_err(|e| err(e.to_string()))?.to_string();
        return Ok(Value::String(text));
    }
    Err(err(format!(
        "has a value of type {}: use str, int, bool, decimal.Decimal, list or dict",
        type_name(obj)
    )))
}

/// The (key, value) pairs of a mapping.
pub(crate) type Items<'py> = Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>;

/// The items of a `dict` or of any other `collections.abc.Mapping`; `None` when `obj` is
/// not a mapping.
pub(crate) fn mapping_items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Items<'py>>> {
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(Some(d.iter().collect()));
    }
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        return Ok(None);
    }
    let Ok(m) = obj.cast::<PyMapping>() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in m.items()?.iter() {
        out.push(item.extract()?);
    }
    Ok(Some(out))
}

/// Builds the Python value of a JSON value (`dict`, `list`, `str`, `int`, `bool`, `None`).
pub(crate) fn to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// Builds the Python value of anything serializable.
pub(crate) fn serialize_to_py<T: serde::Serialize>(
    py: Python<'_>,
    value: &T,
) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_py(py, &json)
}

/// Reads a point in time: Unix seconds (`int` or `float`, not negative) or an aware
/// `datetime.datetime`.
pub(crate) fn to_time(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<SystemTime> {
    let py = obj.py();
    let secs: f64 = if obj.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        if obj.getattr("tzinfo")?.is_none() {
            return Err(PyValueError::new_err(format!(
                "`{name}` is a naive datetime: give it a timezone, e.g. datetime.now(timezone.utc)"
            )));
        }
        obj.call_method0("timestamp")?.extract()?
    } else if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        obj.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "`{name}` must be Unix seconds (int or float) or a datetime, not {}",
            type_name(obj)
        )));
    };
    let d = seconds(secs, name)?;
    Ok(UNIX_EPOCH + d)
}

/// Reads a `now` argument, defaulting to the current time.
pub(crate) fn now_or_current(now: Option<&Bound<'_, PyAny>>) -> PyResult<SystemTime> {
    match now {
        Some(n) => to_time(n, "now"),
        None => Ok(SystemTime::now()),
    }
}

/// Reads a length of time: seconds (`int` or `float`, not negative) or a
/// `datetime.timedelta`.
pub(crate) fn to_duration(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Duration> {
    let py = obj.py();
    let secs: f64 = if obj.is_instance(TIMEDELTA.import(py, "datetime", "timedelta")?)? {
        obj.call_method0("total_seconds")?.extract()?
    } else if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        obj.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "`{name}` must be seconds (int or float) or a timedelta, not {}",
            type_name(obj)
        )));
    };
    seconds(secs, name)
}

fn seconds(secs: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        PyValueError::new_err(format!(
            "`{name}` must be a finite, non-negative number of seconds, not {secs}"
        ))
    })
}
