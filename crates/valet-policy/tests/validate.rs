#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail by panicking")]
//! `valet validate` reports what `cedar validate` reports: the errors and warnings of
//! cedar-policy's strict validation of the same schema and policies, each at its file and
//! line.

use std::collections::BTreeSet;
use std::fs;
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic as _;
use valet_policy::{PolicyError, PolicyStore, Severity};

const SCHEMA: &str = r#"namespace Docs {
  @valet("person")
  entity User in [Team] { email?: String, level: Long };
  entity Team;
  @valet("agent")
  entity Bot { person: User, depth: Long };
  entity Document { owner: User, tags: Set<String> };
  action read appliesTo {
    principal: [Bot],
    resource: [Document],
    context: { audience: String, scopes: Set<String>, at?: datetime },
  };
}
"#;

/// Policies with every kind of problem strict validation finds, and some it warns about.
const POLICIES: &str = r#"
@id("unknown-attribute")
permit (principal, action == Docs::Action::"read", resource)
when { resource.title == "x" };

@id("wrong-type")
permit (principal, action == Docs::Action::"read", resource)
when { principal.depth == "two" };

@id("unknown-entity-type")
permit (principal in Docs::Group::"g", action, resource);

@id("optional-unguarded")
permit (principal, action == Docs::Action::"read", resource)
when { principal.person.email == "a@example.com" };

@id("impossible-scope")
permit (principal, action == Docs::Action::"read", resource is Docs::User);

@id("datetime-compared-with-string")
forbid (principal, action == Docs::Action::"read", resource)
when { context has at && context.at > "2026-01-01" };

@id("fine")
permit (principal, action == Docs::Action::"read", resource)
when { principal.person in Docs::Team::"finance" && resource.owner.level > 2 };

@id("suspicious")
permit (principal, action, resource)
when { principal.person.level > 1 || "\u{202e}" == "x" };
"#;

/// The policies of `text`, each with its `@id` as its id, as Valet names them (the `cedar`
/// CLI would name them `policy0`, `policy1`, ...).
fn by_id(text: &str) -> PolicySet {
    let mut set = PolicySet::new();
    for p in PolicySet::from_str(text).unwrap().policies() {
        let id = p.annotation("id").unwrap().to_owned();
        set.add(p.new_id(PolicyId::new(id))).unwrap();
    }
    set
}

/// cedar-policy's own strict validation: each problem as `message: help`.
fn cedar_validate() -> (BTreeSet<String>, BTreeSet<String>) {
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    let policies = by_id(POLICIES);
    let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
    let text = |d: &dyn miette::Diagnostic| match d.help() {
        Some(help) => format!("{d}: {help}"),
        None => d.to_string(),
    };
    let errors = result.validation_errors().map(|e| text(e)).collect();
    let warnings = result.validation_warnings().map(|w| text(w)).collect();
    (errors, warnings)
}

#[test]
fn valet_validate_reports_what_cedar_validate_reports() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
    fs::write(dir.path().join("docs.cedar"), POLICIES).unwrap();
    let diagnostics = match PolicyStore::load(dir.path()) {
        Err(PolicyError::Diagnostics(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    };
    let (cedar_errors, _) = cedar_validate();
    assert!(cedar_errors.len() >= 5, "{cedar_errors:?}");
    let ours: BTreeSet<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(ours, cedar_errors);
    // Each at the file and line of its policy.
    for d in &diagnostics {
        assert!(d.file.ends_with("docs.cedar"), "{d}");
        let line = POLICIES.lines().nth(d.line - 1).unwrap();
        assert!(!line.trim().is_empty(), "{d} points at an empty line");
    }

    // Without the errors, the warnings are Cedar's too, and the store loads with them.
    let fine: String = POLICIES
        .split("\n\n")
        .filter(|p| p.contains("\"fine\"") || p.contains("\"suspicious\""))
        .collect::<Vec<_>>()
        .join("\n\n");
    fs::write(dir.path().join("docs.cedar"), &fine).unwrap();
    let store = PolicyStore::load(dir.path()).unwrap();
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    let result = Validator::new(schema).validate(&by_id(&fine), ValidationMode::Strict);
    let cedar_warnings: BTreeSet<String> = result
        .validation_warnings()
        .map(|w| match w.help() {
            Some(help) => format!("{w}: {help}"),
            None => w.to_string(),
        })
        .collect();
    assert!(!cedar_warnings.is_empty());
    let ours: BTreeSet<String> = store.warnings().into_iter().map(|w| w.message).collect();
    assert_eq!(ours, cedar_warnings);
}
