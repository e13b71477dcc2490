//! Minting, reading and attenuating tokens.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString};
use valet::danger::BearerMinting;
use valet::token;

use crate::agent_keys::{verifying_key, SigningKey};
use crate::convert::{is_decimal, serialize_to_py, to_duration, to_json, to_time};
use crate::errors::{token_error, TokenError};
use crate::keys::RootKeyPair;

fn audience(uri: &str) -> PyResult<token::Audience> {
    token::Audience::parse(uri).map_err(token_error)
}

fn scope(s: &str) -> PyResult<token::Scope> {
    token::Scope::parse(s).map_err(token_error)
}

/// Reads an amount for a limit: `str`, `decimal.Decimal` or `int`; never a `float`.
fn amount(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<token::Decimal> {
    let text = if let Ok(s) = obj.cast::<PyString>() {
        s.to_str()?.to_owned()
    } else if obj.is_instance_of::<PyInt>() || is_decimal(obj)? {
        obj.str()?.to_string()
    } else {
        return Err(TokenError::new_err(format!(
            "the limit on {what} must be a str such as \"50.00\" or a decimal.Decimal, not {}",
            obj.get_type().name()?
        )));
    };
    text.parse::<token::Decimal>().map_err(|e| {
        TokenError::new_err(format!(
            "the limit on {what} is `{text}`, not an exact decimal: {e}"
        ))
    })
}

/// Splits `"payment.amount"` into its detail type and field.
fn type_field(key: &str) -> PyResult<(String, String)> {
    match key.split_once('.') {
        Some((t, f)) if !t.is_empty() && !f.is_empty() => Ok((t.to_owned(), f.to_owned())),
        _ => Err(TokenError::new_err(format!(
            "limit key `{key}` must name a detail type and a field, like \"payment.amount\""
        ))),
    }
}

/// Reads `{"type.field": value}` or `[("type", "field", value), ...]`.
fn limit_entries<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Vec<(String, String, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    if let Some(items) = crate::convert::mapping_items(obj)? {
        for (k, v) in items {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("`{name}` keys must be str like \"payment.amount\""))
            })?;
            let (t, f) = type_field(&key)?;
            out.push((t, f, v));
        }
        return Ok(out);
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "`{name}` must be a dict or a list of (type, field, value) tuples"
        )));
    }
    for item in obj.try_iter()? {
        let (t, f, v): (String, String, Bound<'py, PyAny>) = item?.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "`{name}` must be a dict or a list of (type, field, value) tuples"
            ))
        })?;
        out.push((t, f, v));
    }
    Ok(out)
}

fn strings(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "`{name}` must be a list of str, not a str"
        )));
    }
    obj.extract()
        .map_err(|_| PyTypeError::new_err(format!("`{name}` must be a list of str")))
}

/// Reads one RFC 9396 authorization detail (a dict with Valet's `limits` member).
fn detail(obj: &Bound<'_, PyAny>) -> PyResult<token::AuthorizationDetail> {
    let json = to_json(obj, "").map_err(|e| TokenError::new_err(e.to_string()))?;
    serde_json::from_value(json)
        .map_err(|e| TokenError::new_err(format!("not a valid RFC 9396 authorization detail: {e}")))
}

/// The keyword arguments of `Token.attenuate` and `Token.attenuate_signed`. pyo3 reads
/// keyword arguments from each method's own signature, so both methods list them; each
/// gathers them here and hands them to `Token::narrowed`.
struct Narrowing<'py> {
    delegate: Option<String>,
    audiences: Option<Bound<'py, PyAny>>,
    scopes: Option<Bound<'py, PyAny>>,
    expires_in: Option<Bound<'py, PyAny>>,
    expires_at: Option<Bound<'py, PyAny>>,
    max: Option<Bound<'py, PyAny>>,
    min: Option<Bound<'py, PyAny>>,
    one_of: Option<Bound<'py, PyAny>>,
    actions: Option<Bound<'py, PyAny>>,
    max_depth: Option<u32>,
    checks: Option<Bound<'py, PyAny>>,
    holder: Option<Bound<'py, PyAny>>,
    now: Option<Bound<'py, PyAny>>,
}

/// Reads the narrowing keyword arguments into an `Attenuation`.
fn attenuation(n: Narrowing<'_>) -> PyResult<token::Attenuation> {
    let mut a = token::Attenuation::new();
    if let Some(d) = n.delegate {
        a = a.delegate(d);
    }
    if let Some(list) = n.audiences {
        let parsed = strings(&list, "audiences")?
            .iter()
            .map(|u| audience(u))
            .collect::<PyResult<Vec<_>>>()?;
        a = a.audiences(parsed);
    }
    if let Some(list) = n.scopes {
        let parsed = strings(&list, "scopes")?
            .iter()
            .map(|s| scope(s))
            .collect::<PyResult<Vec<_>>>()?;
        a = a.scopes(parsed);
    }
    if let Some(t) = n.now {
        a = a.now(to_time(&t, "now")?);
    }
    if let Some(e) = n.expires_in {
        let d: Duration = to_duration(&e, "expires_in")?;
        a = a.expires_in(d);
    }
    if let Some(e) = n.expires_at {
        a = a.expires_at(to_time(&e, "expires_at")?);
    }
    if let Some(m) = n.max {
        for (t, f, v) in limit_entries(&m, "max")? {
            let value = amount(&v, &format!("{t}.{f}"))?;
            a = a.max(t, f, value);
        }
    }
    if let Some(m) = n.min {
        for (t, f, v) in limit_entries(&m, "min")? {
            let value = amount(&v, &format!("{t}.{f}"))?;
            a = a.min(t, f, value);
        }
    }
    if let Some(o) = n.one_of {
        for (t, f, v) in limit_entries(&o, "one_of")? {
            let values = strings(&v, &format!("one_of[{t}.{f}]"))?;
            a = a.one_of(t, f, values);
        }
    }
    if let Some(acts) = n.actions {
        let items = crate::convert::mapping_items(&acts)?.ok_or_else(|| {
            PyTypeError::new_err("`actions` must be a dict like {\"payment\": [\"pay_invoice\"]}")
        })?;
        for (k, v) in items {
            let kind: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("`actions` keys must be str"))?;
            let list = strings(&v, &format!("actions[{kind}]"))?;
            a = a.actions(kind, list);
        }
    }
    if let Some(d) = n.max_depth {
        a = a.max_depth(d);
    }
    if let Some(cs) = n.checks {
        for c in strings(&cs, "checks")? {
            a = a.check(c);
        }
    }
    if let Some(k) = n.holder {
        a = a.holder(verifying_key(&k, "holder")?);
    }
    Ok(a)
}

/// What a root token grants: subject, client, audiences, scopes, lifetime and RFC 9396
/// authorization details. Every setter returns the builder, so calls chain; an `Issuer`
/// signs it.
#[pyclass(module = "valet")]
pub struct TokenBuilder {
    inner: token::TokenBuilder,
}

impl TokenBuilder {
    fn update(
        mut slf: PyRefMut<'_, Self>,
        f: impl FnOnce(token::TokenBuilder) -> token::TokenBuilder,
    ) -> PyRefMut<'_, Self> {
        let b = std::mem::replace(&mut slf.inner, token::TokenBuilder::new("", ""));
        slf.inner = f(b);
        slf
    }
}

#[pymethods]
impl TokenBuilder {
    /// A grant for `subject` (the person) and `client` (the agent). The keyword arguments
    /// are shortcuts for the setters of the same names. `holder` (the agent's public key)
    /// is required to mint, unless `bearer=True`: risky, it mints a bearer token, bound to
    /// no key, which anyone holding a copy can use.
    #[new]
    #[pyo3(signature = (subject, client, *, audiences = None, scopes = None, expires_in = None, details = None, token_id = None, max_depth = None, holder = None, bearer = false))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn new(
        subject: &str,
        client: &str,
        audiences: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        expires_in: Option<Bound<'_, PyAny>>,
        details: Option<Bound<'_, PyAny>>,
        token_id: Option<String>,
        max_depth: Option<u32>,
        holder: Option<Bound<'_, PyAny>>,
        bearer: bool,
    ) -> PyResult<Self> {
        let mut b = token::TokenBuilder::new(subject, client);
        if let Some(a) = audiences {
            for uri in strings(&a, "audiences")? {
                b = b.audience(audience(&uri)?);
            }
        }
        if let Some(s) = scopes {
            for s in strings(&s, "scopes")? {
                b = b.scope(scope(&s)?);
            }
        }
        if let Some(e) = expires_in {
            b = b.expires_in(to_duration(&e, "expires_in")?);
        }
        if let Some(ds) = details {
            for d in ds.try_iter()? {
                b = b.detail(detail(&d?)?);
            }
        }
        if let Some(id) = token_id {
            b = b.token_id(id);
        }
        if let Some(d) = max_depth {
            b = b.max_depth(d);
        }
        if let Some(k) = holder {
            b = b.holder(verifying_key(&k, "holder")?);
        }
        if bearer {
            b = b.bearer();
        }
        Ok(TokenBuilder { inner: b })
    }

    /// Adds an audience: the exact URI of a resource server where the token may be used.
    fn audience<'py>(slf: PyRefMut<'py, Self>, uri: &str) -> PyResult<PyRefMut<'py, Self>> {
        let a = audience(uri)?;
        Ok(Self::update(slf, |b| b.audience(a)))
    }

    /// Adds a scope.
    fn scope<'py>(slf: PyRefMut<'py, Self>, name: &str) -> PyResult<PyRefMut<'py, Self>> {
        let s = scope(name)?;
        Ok(Self::update(slf, |b| b.scope(s)))
    }

    /// Expires this long after minting (seconds or a `timedelta`).
    fn expires_in<'py>(
        slf: PyRefMut<'py, Self>,
        lifetime: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let d = to_duration(lifetime, "lifetime")?;
        Ok(Self::update(slf, |b| b.expires_in(d)))
    }

    /// Expires at this time (Unix seconds or an aware `datetime`).
    fn expires_at<'py>(
        slf: PyRefMut<'py, Self>,
        at: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let t = to_time(at, "at")?;
        Ok(Self::update(slf, |b| b.expires_at(t)))
    }

    /// Not valid before this time (Unix seconds or an aware `datetime`).
    fn not_before<'py>(
        slf: PyRefMut<'py, Self>,
        at: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let t = to_time(at, "at")?;
        Ok(Self::update(slf, |b| b.not_before(t)))
    }

    /// Sets the token id (recorded in audit records).
    fn token_id<'py>(slf: PyRefMut<'py, Self>, id: &str) -> PyRefMut<'py, Self> {
        let id = id.to_owned();
        Self::update(slf, |b| b.token_id(id))
    }

    /// Adds an RFC 9396 authorization detail, e.g.
    /// `{"type": "payment", "limits": {"amount": {"max": "1000.00"}, "currency": {"one_of": ["USD"]}}}`;
    /// a `max` alone refuses amounts under zero, `{"min": "-100.00", "max": "1000.00"}` grants
    /// refunds down to -100.00.
    fn detail<'py>(
        slf: PyRefMut<'py, Self>,
        detail_obj: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let d = detail(detail_obj)?;
        Ok(Self::update(slf, |b| b.detail(d)))
    }

    /// Caps how many attenuation blocks may be added.
    fn max_depth<'py>(slf: PyRefMut<'py, Self>, depth: u32) -> PyRefMut<'py, Self> {
        Self::update(slf, |b| b.max_depth(depth))
    }

    /// Binds the token to the agent's public key (a `VerifyingKey` or its
    /// `"ed25519/<hex>"` text): every request then needs a `HolderProof` signed with the
    /// matching `SigningKey`, so a stolen copy of the token is useless on its own.
    fn holder<'py>(
        slf: PyRefMut<'py, Self>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let k = verifying_key(key, "key")?;
        Ok(Self::update(slf, |b| b.holder(k)))
    }

    /// Risky: lets the grant be minted without a holder key, as a bearer token, which
    /// anyone holding a copy of it can use until it expires. Verifiers refuse it unless
    /// built with `accept_bearer_tokens=True`. A key given with `holder` still binds it.
    fn bearer(slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        Self::update(slf, |b| b.bearer())
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

/// Signs tokens with a root key, refusing lifetimes over its maximum (one hour by
/// default).
#[pyclass(module = "valet", frozen)]
pub struct Issuer {
    inner: token::Issuer,
}

#[pymethods]
impl Issuer {
    /// An issuer signing with `key`; `max_lifetime` in seconds or a `timedelta`.
    #[new]
    #[pyo3(signature = (key, max_lifetime = None))]
    fn new(key: PyRef<'_, RootKeyPair>, max_lifetime: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut inner = token::Issuer::new(key.inner.clone());
        if let Some(m) = max_lifetime {
            inner = inner.max_lifetime(to_duration(&m, "max_lifetime")?);
        }
        Ok(Issuer { inner })
    }

    /// Mints a token from `builder` as of `now` (Unix seconds or an aware `datetime`;
    /// default: the current time).
    #[pyo3(signature = (builder, now = None))]
    fn mint(
        &self,
        builder: PyRef<'_, TokenBuilder>,
        now: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Token> {
        let grant = builder.inner.clone();
        let minted = match now {
            Some(n) => self.inner.mint_at(grant, to_time(&n, "now")?),
            None => self.inner.mint(grant),
        };
        minted.map(|inner| Token { inner }).map_err(token_error)
    }
}

/// A valet key as presented: parsed, its signatures not yet checked (an `Authorizer`
/// checks them). Reading its claims and attenuating it need no key.
#[pyclass(module = "valet", frozen)]
pub struct Token {
    pub(crate) inner: token::Token,
}

impl Token {
    /// This token narrowed by the keyword arguments of `attenuate`, the new block signed by
    /// `key` when one is given (`attenuate_signed`).
    fn narrowed(&self, n: Narrowing<'_>, key: Option<&token::SigningKey>) -> PyResult<Token> {
        let a = attenuation(n)?;
        let narrowed = match key {
            Some(k) => self.inner.attenuate_signed(a, k),
            None => self.inner.attenuate(a),
        };
        narrowed.map(|inner| Token { inner }).map_err(token_error)
    }
}

#[pymethods]
impl Token {
    /// Reads a token from its base64url text.
    #[staticmethod]
    fn from_base64(text: &str) -> PyResult<Self> {
        token::Token::from_base64(text.trim())
            .map(|inner| Token { inner })
            .map_err(token_error)
    }

    /// Reads a token from its binary form.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        token::Token::from_bytes(data)
            .map(|inner| Token { inner })
            .map_err(token_error)
    }

    /// The token as base64url text.
    fn to_base64(&self) -> String {
        self.inner.to_base64()
    }

    /// The token in binary form.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.to_bytes())
    }

    /// The id of the root key that signed it, if the token names one.
    #[getter]
    fn key_id(&self) -> Option<u32> {
        self.inner.key_id().map(|k| k.0)
    }

    /// How many blocks it has (1 for a root token, one more per attenuation).
    #[getter]
    fn block_count(&self) -> usize {
        self.inner.block_count()
    }

    /// Every block's revocation id (hex), authority first. Revoking one refuses that block
    /// and every token derived from it.
    fn revocation_ids(&self) -> Vec<String> {
        self.inner
            .revocation_ids()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// What the token says, with each narrowing applied, as a dict. Unverified: only an
    /// `Authorizer` checks the signatures.
    fn claims(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let claims = self.inner.unverified_claims().map_err(token_error)?;
        serialize_to_py(py, &claims)
    }

    /// Same as `claims()`, under the Rust name.
    fn unverified_claims(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.claims(py)
    }

    /// A NEW token narrowed for a sub-agent; this one is unchanged. No key is needed.
    ///
    /// - `delegate`: the sub-agent's name, recorded in the chain of custody;
    /// - `audiences`, `scopes`: subsets of the parent's;
    /// - `expires_in` (seconds or `timedelta`, from `now`) or `expires_at`;
    /// - `max`: `{"payment.amount": "50.00"}` or `[("payment", "amount", "50.00")]`
    ///   (amounts as `str` or `decimal.Decimal`, never `float`); a `max` alone also refuses
    ///   amounts under zero;
    /// - `min`: the lowest amount, the same way (`{"payment.amount": "10.00"}`); it cannot go
    ///   below the parent's (zero under a `max` alone);
    /// - `one_of`: `{"payment.recipient": ["alice@example.com"]}` or tuples;
    /// - `actions`: `{"payment": ["pay_invoice"]}`;
    /// - `max_depth`: how many more blocks may follow;
    /// - `checks`: raw Datalog checks (they can only refuse more);
    /// - `holder`: binds the token to the sub-agent's `VerifyingKey` (or its text): from
    ///   this block on, requests need a proof of possession by that key. To hand on a
    ///   token that is already bound, use `attenuate_signed` with the current holder's key.
    ///
    /// Raises `WideningError` if the result would allow more than this token.
    #[pyo3(signature = (*, delegate = None, audiences = None, scopes = None, expires_in = None, expires_at = None, max = None, min = None, one_of = None, actions = None, max_depth = None, checks = None, holder = None, now = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn attenuate(
        &self,
        delegate: Option<String>,
        audiences: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        expires_in: Option<Bound<'_, PyAny>>,
        expires_at: Option<Bound<'_, PyAny>>,
        max: Option<Bound<'_, PyAny>>,
        min: Option<Bound<'_, PyAny>>,
        one_of: Option<Bound<'_, PyAny>>,
        actions: Option<Bound<'_, PyAny>>,
        max_depth: Option<u32>,
        checks: Option<Bound<'_, PyAny>>,
        holder: Option<Bound<'_, PyAny>>,
        now: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Token> {
        let n = Narrowing {
            delegate,
            audiences,
            scopes,
            expires_in,
            expires_at,
            max,
            min,
            one_of,
            actions,
            max_depth,
            checks,
            holder,
            now,
        };
        self.narrowed(n, None)
    }

    /// Like `attenuate`, with the block signed by `key`, the current holder's
    /// `SigningKey`: the chain of custody then shows, verified, which key delegated (each
    /// link's `signed_by` and `verified`). With `holder=` it hands a bound token on to a
    /// sub-agent's key. Same keyword arguments as `attenuate`.
    ///
    /// Raises `WideningError` for a widening, and `TokenError` when the token is bound to
    /// another key than `key`.
    #[pyo3(signature = (key, *, delegate = None, audiences = None, scopes = None, expires_in = None, expires_at = None, max = None, min = None, one_of = None, actions = None, max_depth = None, checks = None, holder = None, now = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn attenuate_signed(
        &self,
        key: PyRef<'_, SigningKey>,
        delegate: Option<String>,
        audiences: Option<Bound<'_, PyAny>>,
        scopes: Option<Bound<'_, PyAny>>,
        expires_in: Option<Bound<'_, PyAny>>,
        expires_at: Option<Bound<'_, PyAny>>,
        max: Option<Bound<'_, PyAny>>,
        min: Option<Bound<'_, PyAny>>,
        one_of: Option<Bound<'_, PyAny>>,
        actions: Option<Bound<'_, PyAny>>,
        max_depth: Option<u32>,
        checks: Option<Bound<'_, PyAny>>,
        holder: Option<Bound<'_, PyAny>>,
        now: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Token> {
        let n = Narrowing {
            delegate,
            audiences,
            scopes,
            expires_in,
            expires_at,
            max,
            min,
            one_of,
            actions,
            max_depth,
            checks,
            holder,
            now,
        };
        self.narrowed(n, Some(&key.inner))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Token>()
            .is_ok_and(|o| o.get().inner.to_bytes() == self.inner.to_bytes())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.to_bytes().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let key_id = self
            .inner
            .key_id()
            .map_or_else(|| "None".to_owned(), |k| k.to_string());
        format!(
            "Token(key_id={key_id}, blocks={})",
            self.inner.block_count()
        )
    }
}
