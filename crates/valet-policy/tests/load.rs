#![expect(clippy::unwrap_used, clippy::panic, reason = "tests fail by panicking")]
//! Loading, diagnostics, limits and reload, on policy directories made for each test.

use std::fs;
use std::path::Path;

use tempfile::TempDir;
use valet_policy::{
    LimitExceeded, PolicyError, PolicyLimits, PolicyOutcome, PolicyStore, Severity, Transaction,
};

const SCHEMA: &str = r#"@valet("agent") entity Agent { subject: String, client: String, depth: Long, chain: Set<String> };
entity Resource;
action pay_invoice appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: { audience: String, scopes: Set<String>, amount: decimal, currency: String },
};
action read_file appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: { audience: String, scopes: Set<String> },
};
"#;

const PERMIT_READ: &str = r#"@id("read")
permit (principal, action == Action::"read_file", resource);
"#;

fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn diagnostics(dir: &Path) -> Vec<valet_policy::Diagnostic> {
    match PolicyStore::load(dir) {
        Err(PolicyError::Diagnostics(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

fn read(store: &PolicyStore, chain: &[String]) -> PolicyOutcome {
    let scopes = vec![];
    store
        .evaluate(&Transaction {
            agent: "bot",
            subject: "alice",
            client: "bot",
            chain,
            action: "read_file",
            audience: "https://files.example.com",
            scopes: &scopes,
            details: None,
            earlier: &[],
            verified: true,
        })
        .outcome
}

#[test]
fn syntax_error_has_file_line_column() {
    let dir = dir_with(&[
        ("good.cedar", PERMIT_READ),
        (
            "broken.cedar",
            "// a comment\npermit (principal, action, resource)\nwhen { context.scopes.contains( };\n",
        ),
    ]);
    let d = diagnostics(dir.path());
    assert_eq!(d.len(), 1, "{d:?}");
    let d = &d[0];
    assert_eq!(d.file, dir.path().join("broken.cedar"));
    assert_eq!((d.line, d.column), (3, 33), "{d}");
    assert_eq!(d.severity, Severity::Error);
    let shown = d.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:3:33: error: ",
            dir.path().join("broken.cedar").display()
        )),
        "{shown}"
    );
}

#[test]
fn validation_error_points_at_the_policy_file() {
    let dir = dir_with(&[
        ("a.cedar", PERMIT_READ),
        (
            "b.cedar",
            "// pays\npermit (principal, action == Action::\"pay_invoice\", resource)\nwhen { context.amout.greaterThan(decimal(\"1.00\")) };\n",
        ),
    ]);
    let d = diagnostics(dir.path());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].file, dir.path().join("b.cedar"));
    assert_eq!(d[0].line, 3, "{}", d[0]);
    assert!(d[0].message.contains("amout"), "{}", d[0]);
}

#[test]
fn schema_error_points_at_the_schema() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    fs::write(
        dir.path().join("schema.cedarschema"),
        "entity Agent;\nentity Resource\naction read_file;\n",
    )
    .unwrap();
    let d = diagnostics(dir.path());
    assert_eq!(d[0].file, dir.path().join("schema.cedarschema"));
    assert_eq!(d[0].line, 3, "{}", d[0]);
}

#[test]
fn ids_default_to_file_stem_and_index_and_must_be_unique() {
    let dir = dir_with(&[(
        "files.cedar",
        "permit (principal, action == Action::\"read_file\", resource);\nforbid (principal, action == Action::\"read_file\", resource) when { context.scopes.contains(\"x\") };\n",
    )]);
    let store = PolicyStore::load(dir.path()).unwrap();
    assert_eq!(store.policy_ids(), vec!["files.0", "files.1"]);

    let dir = dir_with(&[("a.cedar", PERMIT_READ), ("b.cedar", PERMIT_READ)]);
    let d = diagnostics(dir.path());
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].message.contains("duplicate policy id `read`"),
        "{}",
        d[0]
    );
    assert_eq!(d[0].file, dir.path().join("b.cedar"));
    assert_eq!((d[0].line, d[0].column), (1, 1));
}

#[test]
fn approval_on_a_permit_is_an_error() {
    let dir = dir_with(&[(
        "a.cedar",
        "@approval(\"x\")\npermit (principal, action == Action::\"read_file\", resource);\n",
    )]);
    let d = diagnostics(dir.path());
    assert!(
        d[0].message
            .contains("`@approval` goes on `forbid` policies only"),
        "{d:?}"
    );
}

#[test]
fn missing_schema_is_an_error() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    fs::remove_file(dir.path().join("schema.cedarschema")).unwrap();
    assert!(matches!(
        PolicyStore::load(dir.path()),
        Err(PolicyError::NoSchema { .. })
    ));
}

#[test]
fn subdirectories_are_not_read() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    fs::create_dir(dir.path().join("tests")).unwrap();
    fs::write(dir.path().join("tests/bad.cedar"), "not cedar").unwrap();
    assert!(PolicyStore::load(dir.path()).is_ok());
}

#[test]
fn too_many_files() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ), ("b.cedar", "")]);
    let limits = PolicyLimits {
        max_files: 1,
        ..PolicyLimits::default()
    };
    match PolicyStore::load_with_limits(dir.path(), limits) {
        Err(PolicyError::Limits(LimitExceeded::TooManyFiles {
            count: 2, max: 1, ..
        })) => {}
        other => panic!("expected too many files, got {other:?}"),
    }
}

#[test]
fn file_too_large() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    let limits = PolicyLimits {
        max_file_bytes: 16,
        ..PolicyLimits::default()
    };
    let err = PolicyStore::load_with_limits(dir.path(), limits).unwrap_err();
    assert!(
        matches!(
            err,
            PolicyError::Limits(LimitExceeded::FileTooLarge { max: 16, .. })
        ),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("larger than the limit of 16 bytes"));
    assert_eq!(PolicyLimits::default().max_files, 1024);
    assert_eq!(PolicyLimits::default().max_file_bytes, 1024 * 1024);
}

#[test]
fn reload_keeps_old_set_on_bad_edit_and_swaps_on_good_edit() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    let store = PolicyStore::load(dir.path()).unwrap();
    assert_eq!(read(&store, &[]), PolicyOutcome::Allow);

    // A bad edit: the old policies stay in force.
    fs::write(
        dir.path().join("a.cedar"),
        "permit (principal, action, resource",
    )
    .unwrap();
    let err = store.reload().unwrap_err();
    assert_eq!(err.diagnostics().len(), 1, "{err}");
    assert_eq!(read(&store, &[]), PolicyOutcome::Allow);

    // A good edit: the new policies replace the old ones.
    fs::write(
        dir.path().join("a.cedar"),
        "@id(\"no-reads\")\nforbid (principal, action == Action::\"read_file\", resource);\n",
    )
    .unwrap();
    store.reload().unwrap();
    assert_eq!(read(&store, &[]), PolicyOutcome::Deny);
    assert_eq!(store.policy_ids(), vec!["no-reads"]);
}

#[test]
fn erroring_forbid_fails_closed() {
    // The forbid overflows for any chain longer than 1; Cedar would skip it and let the
    // permit through.
    let dir = dir_with(&[(
        "a.cedar",
        "@id(\"read\")\npermit (principal, action == Action::\"read_file\", resource);\n@id(\"overflow\")\nforbid (principal, action == Action::\"read_file\", resource) when { principal.depth * 9223372036854775807 > 100 };\n",
    )]);
    let store = PolicyStore::load(dir.path()).unwrap();
    let chain = vec!["a".to_owned(), "b".to_owned()];
    let scopes = vec![];
    let decision = store.evaluate(&Transaction {
        agent: "b",
        subject: "alice",
        client: "bot",
        chain: &chain,
        action: "read_file",
        audience: "https://files.example.com",
        scopes: &scopes,
        details: None,
        earlier: &[],
        verified: true,
    });
    assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
    assert!(
        decision.reasons[0].message.contains("overflow"),
        "{decision:?}"
    );
    // Without the error the permit applies.
    assert_eq!(read(&store, &[]), PolicyOutcome::Allow);
}

#[test]
fn warnings_are_kept_not_fatal() {
    // Mixing scripts in a string literal is a validation warning.
    let dir = dir_with(&[(
        "a.cedar",
        "@id(\"read\")\npermit (principal, action == Action::\"read_file\", resource) when { context.audience != \"pа\" };\n",
    )]);
    let store = PolicyStore::load(dir.path()).unwrap();
    let w = store.warnings();
    assert!(!w.is_empty());
    assert_eq!(w[0].severity, Severity::Warning);
    assert_eq!(w[0].line, 2, "{}", w[0]);
}

#[test]
fn a_reserved_context_member_of_another_type_points_at_the_action() {
    let dir = dir_with(&[("a.cedar", PERMIT_READ)]);
    let schema = format!(
        "{SCHEMA}\n// amounts by day\naction report appliesTo {{\n  principal: [Agent],\n  resource: [Resource],\n  context: {{ audience: Long, scopes: Set<String>, days: Set<Long> }},\n}};\n"
    );
    fs::write(dir.path().join("schema.cedarschema"), &schema).unwrap();
    let d = diagnostics(dir.path());
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].message.contains(
            "context attribute `audience` of action `report` must be a required `String`"
        ),
        "{}",
        d[0]
    );
    let line = schema
        .lines()
        .position(|l| l.starts_with("action report"))
        .unwrap()
        + 1;
    assert_eq!((d[0].line, d[0].column), (line, 1), "{}", d[0]);
}
