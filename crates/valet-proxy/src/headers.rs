//! Header hygiene: hop-by-hop headers dropped both ways, Valet's own request headers never
//! forwarded, and the decision's identity passed upstream in headers of its own.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};
use valet_http::Authorized;

/// The person the agent acts for (the token's subject, signed by the issuer).
pub const SUBJECT_HEADER: HeaderName = HeaderName::from_static("valet-subject");
/// The agent the issuer minted the token for (its client id, signed by the issuer).
pub const CLIENT_HEADER: HeaderName = HeaderName::from_static("valet-client");
/// The acting agent: the last delegate, else the client.
pub const AGENT_HEADER: HeaderName = HeaderName::from_static("valet-agent");
/// The delegates in order, comma-separated; sent only when the token was delegated.
pub const DELEGATES_HEADER: HeaderName = HeaderName::from_static("valet-delegates");
/// The holder key whose proof of possession came with the request (`ed25519/<hex>`).
pub const HOLDER_KEY_HEADER: HeaderName = HeaderName::from_static("valet-holder-key");

/// Every request header whose name starts with this is removed before forwarding: the
/// credentials (`Valet-Proof`, `Valet-Approval`) and any copy of the identity headers a
/// client sent.
pub const VALET_HEADER_PREFIX: &str = "valet-";

/// The hop-by-hop headers of RFC 9110 section 7.6.1, and the older ones proxies drop.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes the hop-by-hop headers, those the `Connection` header names among them, and
/// `Upgrade` (the proxy does not switch protocols).
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Readies a request's headers for the upstream: hop-by-hop headers, `Authorization`,
/// `Expect` and every `Valet-*` header removed, `Host` set to the upstream's, the client's address
/// appended to `X-Forwarded-For`, and the decision's identity set.
pub(crate) fn forward_request(
    headers: &mut HeaderMap,
    authorized: &Authorized,
    upstream_host: &HeaderValue,
    client: Option<std::net::IpAddr>,
) {
    remove_hop_by_hop(headers);
    headers.remove(header::AUTHORIZATION);
    // The body was read whole before the request was judged: nothing is left to continue.
    headers.remove(header::EXPECT);
    let valet: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with(VALET_HEADER_PREFIX))
        .cloned()
        .collect();
    for name in valet {
        headers.remove(name);
    }
    if let Some(host) = headers.remove(header::HOST) {
        if !headers.contains_key("x-forwarded-host") {
            headers.insert(HeaderName::from_static("x-forwarded-host"), host);
        }
    }
    headers.insert(header::HOST, upstream_host.clone());
    if let Some(ip) = client {
        let forwarded = HeaderName::from_static("x-forwarded-for");
        let value = match headers.get(&forwarded).and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(forwarded, v);
        }
    }
    let delegates: Vec<String> = authorized.delegates().iter().map(|d| encode(d)).collect();
    let identity = [
        (SUBJECT_HEADER, authorized.subject().map(encode)),
        (CLIENT_HEADER, authorized.client().map(encode)),
        (AGENT_HEADER, authorized.agent().map(encode)),
        (
            DELEGATES_HEADER,
            (!delegates.is_empty()).then(|| delegates.join(",")),
        ),
        (
            HOLDER_KEY_HEADER,
            authorized.proof_key().map(|k| encode(&k.to_string())),
        ),
    ];
    for (name, value) in identity {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, v);
        }
    }
}

/// A value as an identity header carries it: UTF-8 with every byte that is not visible
/// ASCII, and `%` and `,`, written `%XX` (percent-encoding, so that `decodeURIComponent`
/// or `urllib.parse.unquote` gives the value back). `alice@example.com` is sent as is.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b',' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_values_are_percent_encoded_where_needed() {
        assert_eq!(encode("alice@example.com"), "alice@example.com");
        assert_eq!(
            encode("https://agent.example/client"),
            "https://agent.example/client"
        );
        assert_eq!(encode("a b,c%d"), "a%20b%2Cc%25d");
        assert_eq!(encode("zoé\n"), "zo%C3%A9%0A");
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::CONTENT_TYPE));
    }
}
