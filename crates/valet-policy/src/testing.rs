//! Policy tests in the JSON shape `cedar run-tests` reads, so that both tools run them.
//!
//! A test file is a JSON array of cases:
//!
//! ```json
//! [{
//!   "name": "small payment is allowed",
//!   "request": {
//!     "principal": "Agent::\"billing-bot\"",
//!     "action": "Action::\"pay_invoice\"",
//!     "resource": "Resource::\"inv-1\"",
//!     "context": {"audience": "https://pay.example.com", "scopes": ["payments:write"],
//!                 "amount": {"__extn": {"fn": "decimal", "arg": "50.00"}},
//!                 "currency": "USD", "recipient": "alice@example.com"}
//!   },
//!   "entities": [],
//!   "decision": "allow",
//!   "reason": ["payments-permit"],
//!   "num_errors": 0
//! }]
//! ```
//!
//! The context is read against the action's context type in the schema, so a decimal may
//! also be written as a plain string (`"amount": "50.00"`). `entities` is an array of
//! Cedar entity JSON, or the name of a JSON file beside the test file (name it
//! `entities.json` or `*.entities.json` so that [`run_dir`] does not take it for tests). `reason` lists
//! policy ids that must be among the determining policies. A case may also say
//! `"outcome": "allow" | "deny" | "needs_approval"`, which Valet checks against its own
//! outcome (with the `@approval` step-up); `cedar run-tests` ignores that member.
//!
//! A case judges one Cedar request, for one principal. A request presented with a
//! delegated token is judged for every agent of its chain (see the crate docs on
//! delegation), so a case allowing `Agent::"billing-bot"` shows what a token minted for
//! that client may do; a delegate named `billing-bot` under another client is allowed only
//! what that client is too.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, Request};
use serde::{Deserialize, Serialize};

use crate::answer::decide;
use crate::decision::PolicyOutcome;
use crate::error::{full_message, PolicyError};
use crate::loaded::Loaded;
use crate::store::PolicyStore;

/// The result of one test case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The case's name (`(unnamed)` when it has none).
    pub name: String,
    /// Whether the case passed.
    pub passed: bool,
    /// What went wrong, empty when the case passed.
    pub message: String,
}

/// The results of a test run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// Every case, in file and case order.
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    /// How many cases passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// How many cases failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }

    /// Whether every case passed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    /// `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.cases {
            if c.passed {
                writeln!(f, "test {}: {} ... ok", c.file.display(), c.name)?;
            } else {
                writeln!(
                    f,
                    "test {}: {} ... FAILED: {}",
                    c.file.display(),
                    c.name,
                    c.message
                )?;
            }
        }
        write!(f, "{}", self.summary())
    }
}

/// Whether a file of a test directory holds entity data rather than test cases:
/// `entities.json`, or a name ending in `.entities.json`.
pub fn is_entities_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "entities.json" || n.ends_with(".entities.json"))
}

/// Runs every `*.json` file of `dir` (sorted by name) against the store, except entity
/// data files named `entities.json` or `*.entities.json`, which test cases name in their
/// `entities`.
pub fn run_dir(store: &PolicyStore, dir: impl AsRef<Path>) -> Result<TestReport, PolicyError> {
    let dir = dir.as_ref();
    let io = |source| PolicyError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file()
            && path.extension().is_some_and(|e| e == "json")
            && !is_entities_file(&path)
        {
            files.push(path);
        }
    }
    files.sort();
    let mut report = TestReport::default();
    for file in files {
        report.cases.append(&mut run_file(store, &file)?.cases);
    }
    Ok(report)
}

/// Runs one test file against the store.
pub fn run_file(store: &PolicyStore, file: impl AsRef<Path>) -> Result<TestReport, PolicyError> {
    let file = file.as_ref();
    let max = store.limits().max_file_bytes;
    let len = fs::metadata(file)
        .map_err(|source| PolicyError::Io {
            path: file.to_path_buf(),
            source,
        })?
        .len();
    if len > max {
        return Err(crate::error::LimitExceeded::FileTooLarge {
            path: file.to_path_buf(),
            max,
        }
        .into());
    }
    let text = fs::read_to_string(file).map_err(|source| PolicyError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    Ok(run_json(store, file, &text))
}

/// Runs the cases of one test file already read; `file` names it in the report and is
/// where entities files are looked up from.
pub fn run_json(store: &PolicyStore, file: &Path, text: &str) -> TestReport {
    let loaded = store.snapshot();
    let fail = |name: &str, message: String| CaseResult {
        file: file.to_path_buf(),
        name: name.to_owned(),
        passed: false,
        message,
    };
    let cases: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            return TestReport {
                cases: vec![fail(
                    "(file)",
                    format!("not a JSON array of test cases: {e}"),
                )],
            }
        }
    };
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    let cases = cases
        .into_iter()
        .map(|case| {
            let name = case
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("(unnamed)")
                .to_owned();
            match run_case(&loaded, dir, case) {
                Ok(()) => CaseResult {
                    file: file.to_path_buf(),
                    name,
                    passed: true,
                    message: String::new(),
                },
                Err(message) => fail(&name, message),
            }
        })
        .collect();
    TestReport { cases }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ExpectedDecision {
    Allow,
    Deny,
}

#[derive(Deserialize)]
struct RequestJson {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CaseJson {
    request: RequestJson,
    entities: serde_json::Value,
    decision: ExpectedDecision,
    #[serde(default)]
    reason: Vec<String>,
    #[serde(default)]
    num_errors: usize,
    #[serde(default)]
    outcome: Option<PolicyOutcome>,
}

fn run_case(loaded: &Loaded, dir: &Path, case: serde_json::Value) -> Result<(), String> {
    let case: CaseJson =
        serde_json::from_value(case).map_err(|e| format!("malformed test case: {e}"))?;
    let euid = |what: &str, text: &str| -> Result<EntityUid, String> {
        text.parse()
            .map_err(|e| format!("cannot parse {what} `{text}`: {e}"))
    };
    let principal = euid("principal", &case.request.principal)?;
    let action = euid("action", &case.request.action)?;
    let resource = euid("resource", &case.request.resource)?;
    let context_json = case
        .request
        .context
        .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
    let context = Context::from_json_value(context_json, Some((&loaded.schema, &action)))
        .map_err(|e| format!("cannot read the context: {}", full_message(&e)))?;
    let action_name = action.id().unescaped().to_owned();
    let request = Request::new(principal, action, resource, context, Some(&loaded.schema))
        .map_err(|e| format!("request does not fit the schema: {}", full_message(&e)))?;
    let entities_json = match case.entities {
        serde_json::Value::String(name) => read_entities_file(dir, &name)?,
        other => other,
    };
    let entities = Entities::from_json_value(entities_json, Some(&loaded.schema))
        .map_err(|e| format!("cannot read the entities: {}", full_message(&e)))?;

    let mut problems = Vec::new();
    let response = Authorizer::new().is_authorized(&request, &loaded.policies, &entities);
    let expected = match case.decision {
        ExpectedDecision::Allow => Decision::Allow,
        ExpectedDecision::Deny => Decision::Deny,
    };
    if response.decision() != expected {
        problems.push(format!(
            "expected {:?}, got {:?}",
            expected,
            response.decision()
        ));
    } else {
        let reasons: BTreeSet<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        let missing: Vec<String> = case
            .reason
            .iter()
            .filter(|r| !reasons.contains(*r))
            .map(|r| format!("`{r}`"))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("missing reason(s): {}", missing.join(", ")));
        }
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if errors.len() != case.num_errors {
            problems.push(format!(
                "expected {} error(s), got {}{}",
                case.num_errors,
                errors.len(),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(": {}", errors.join(", "))
                }
            ));
        }
    }
    if let Some(outcome) = case.outcome {
        let decision = decide(loaded, &request, &entities, &action_name);
        if decision.outcome != outcome {
            problems.push(format!(
                "expected outcome {outcome:?}, got {:?} ({})",
                decision.outcome,
                decision
                    .reasons
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Reads an entities file named by a test case, which must stay in the test directory.
fn read_entities_file(dir: &Path, name: &str) -> Result<serde_json::Value, String> {
    let path = dir.join(name);
    let canonical = path
        .canonicalize()
        .map_err(|e| format!("cannot find entities file `{name}`: {e}"))?;
    let canonical_dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot find the test directory: {e}"))?;
    if !canonical.starts_with(&canonical_dir) {
        return Err(format!(
            "entities file `{name}` is outside the test directory: keep it beside the tests"
        ));
    }
    let text = fs::read_to_string(&canonical)
        .map_err(|e| format!("cannot read entities file `{name}`: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("entities file `{name}` is not JSON: {e}"))
}
