//! The policy annotations Valet reads, and a policy's annotations as a map.

use std::collections::BTreeMap;

use cedar_policy::Policy;

/// The annotation that names a policy.
pub const ID_ANNOTATION: &str = "id";
/// The annotation that turns a `forbid` into a step-up: the text says whose approval
/// is needed.
pub const APPROVAL_ANNOTATION: &str = "approval";
/// An optional annotation with a human-readable reason, quoted in denials.
pub const REASON_ANNOTATION: &str = "reason";

/// The string annotations of a policy, in key order.
pub(crate) fn annotations_of(policy: &Policy) -> BTreeMap<String, String> {
    policy
        .annotations()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
