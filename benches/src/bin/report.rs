//! Prints one Markdown table of every benchmark median found under
//! `target/criterion/*/new/estimates.json`, then the targets as ratios of figures from that
//! run, the token sizes the `sizes` bench wrote (`target/criterion/valet-sizes.json`), the
//! peak memory and the allocations per decision (run by the `memory` and `allocs`
//! binaries next to this one). With `--write`, also replaces the results section of
//! `benches/README.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use valet_benches::{criterion_dir, sizes_markdown, SIZES_FILE};

const START: &str = "<!-- results:start -->";
const END: &str = "<!-- results:end -->";

/// Every `full_id` with its median in nanoseconds.
fn medians(dir: &Path, out: &mut BTreeMap<String, f64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let new = path.join("new");
        let estimates = std::fs::read_to_string(new.join("estimates.json")).ok();
        let benchmark = std::fs::read_to_string(new.join("benchmark.json")).ok();
        if let (Some(e), Some(b)) = (estimates, benchmark) {
            let e: serde_json::Value = serde_json::from_str(&e).unwrap_or_default();
            let b: serde_json::Value = serde_json::from_str(&b).unwrap_or_default();
            if let (Some(id), Some(median)) = (
                b.get("full_id").and_then(|v| v.as_str()),
                e.pointer("/median/point_estimate").and_then(|v| v.as_f64()),
            ) {
                out.insert(id.to_owned(), median);
            }
        } else {
            medians(&path, out);
        }
    }
}

fn human(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// `key=value` lines printed by a sibling binary.
fn run_sibling(name: &str) -> BTreeMap<String, String> {
    let path = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)));
    let output = path.and_then(|p| Command::new(p).output().ok());
    let mut values = BTreeMap::new();
    if let Some(o) = output {
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                values.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    values
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores (`nproc`), {cpu}")
}

/// Whether a target is met.
enum Met {
    Yes,
    /// Missed, by this much (a percentage of the goal, or a time).
    MissedBy(String),
    /// A figure reported without a goal.
    NoGoal,
}

struct Target {
    name: String,
    goal: String,
    value: Option<String>,
    met: Option<Met>,
}

fn report(m: &BTreeMap<String, f64>) -> String {
    let get = |id: &str| m.get(id).copied();
    let mut out = String::new();
    let _ = writeln!(out, "Machine: {}.\n", machine());
    let _ = writeln!(out, "| benchmark | median |\n|---|---:|");
    for (id, ns) in m {
        let _ = writeln!(out, "| `{id}` | {} |", human(*ns));
    }
    if !m.keys().any(|k| k.starts_with("tenuo/")) {
        let _ = writeln!(
            out,
            "| `tenuo/*` | not measured: no Tenuo results in this run |"
        );
    }

    let mut targets = Vec::new();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    // Valet against Tenuo and against its own parts, each at most `goal` times the other.
    let repeat_bound = match (get("ed25519/verify"), get("presentation/repeat_1_block")) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    for (name, valet, other, goal) in [
        (
            "first presentation with a proof, 1-block holder-bound token, 100 policies \
             (`presentation/first_1_block_with_proof`) / Tenuo root warrant authorize with \
             proof (`tenuo/authorize_root`)",
            get("presentation/first_1_block_with_proof"),
            get("tenuo/authorize_root"),
            0.8,
        ),
        (
            "first presentation with a proof, 3-block token, each delegation signed by the \
             holder before it and bound to the next, 100 policies \
             (`presentation/first_3_blocks_with_proof`) / Tenuo 3-deep chain authorize \
             (`tenuo/authorize_chain_3`)",
            get("presentation/first_3_blocks_with_proof"),
            get("tenuo/authorize_chain_3"),
            0.8,
        ),
        (
            "mint a holder-bound root (`mint/holder_bound`) / Tenuo mint (`tenuo/mint`)",
            get("mint/holder_bound"),
            get("tenuo/mint"),
            1.0,
        ),
        (
            "attenuate a holder-bound 1-block token, signed by its holder and bound to the \
             next (`attenuate/holder_signed_onto_1`) / Tenuo attenuate (`tenuo/attenuate`)",
            get("attenuate/holder_signed_onto_1"),
            get("tenuo/attenuate"),
            1.0,
        ),
        (
            "repeat presentation with a proof, 1 block, 100 policies \
             (`presentation/repeat_1_block_with_proof`) / (`ed25519/verify` + \
             `presentation/repeat_1_block`)",
            get("presentation/repeat_1_block_with_proof"),
            repeat_bound,
            1.15,
        ),
        (
            "policy scale on the namespaced model, a 3-step chain: 1000 policies \
             (`policy_model/policies/1000`) / 100 policies (`policy_model/policies/100`)",
            get("policy_model/policies/1000"),
            get("policy_model/policies/100"),
            2.0,
        ),
        (
            "entity data, whole decision: `Authorizer::authorize` of a holder-bound 3-block \
             token with a fresh proof, 100 policies, given an `EntityData` provider of 10 \
             entities with parents (`decision_entities/provider_10_entities`) / given none \
             (`decision_entities/without_data`)",
            get("decision_entities/provider_10_entities"),
            get("decision_entities/without_data"),
            1.2,
        ),
    ] {
        let r = ratio(valet, other);
        targets.push(Target {
            name: name.into(),
            goal: format!("≤ {goal:.2}x"),
            value: r.map(|r| format!("{r:.2}x")),
            met: r.map(|r| {
                if r <= goal {
                    Met::Yes
                } else {
                    Met::MissedBy(format!("{:.0} %", (r / goal - 1.0) * 100.0))
                }
            }),
        });
    }
    // Fast denials.
    for (id, ns) in m.iter().filter(|(id, _)| id.starts_with("deny/")) {
        let goal = 2_000.0;
        targets.push(Target {
            name: format!("denial (`{id}`)"),
            goal: "≤ 2 µs".into(),
            value: Some(human(*ns)),
            met: Some(if *ns <= goal {
                Met::Yes
            } else {
                Met::MissedBy(human(*ns - goal))
            }),
        });
    }
    // Decoding the bytes alone, beside biscuit-auth's parse of the same bytes.
    for blocks in [1, 3] {
        let (v, b) = (
            get(&format!("decode/valet/{blocks}")),
            get(&format!("decode/biscuit/{blocks}")),
        );
        targets.push(Target {
            name: format!(
                "decode, {blocks}-block holder-bound token: `Token::from_bytes` \
                 (`decode/valet/{blocks}`) / biscuit-auth `UnverifiedBiscuit::from` \
                 (`decode/biscuit/{blocks}`)"
            ),
            goal: "reported".into(),
            value: match (v, b) {
                (Some(v), Some(b)) => Some(format!("{:.2}x ({} / {})", v / b, human(v), human(b))),
                _ => None,
            },
            met: Some(Met::NoGoal),
        });
    }

    let _ = writeln!(
        out,
        "\n| target | goal | this run | met |\n|---|---|---:|---|"
    );
    for t in &targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            t.name,
            t.goal,
            t.value.as_deref().unwrap_or("missing"),
            match &t.met {
                Some(Met::Yes) => "yes".to_owned(),
                Some(Met::MissedBy(by)) => format!("**no**, missed by {by}"),
                Some(Met::NoGoal) => "(no goal)".to_owned(),
                None => "n/a".to_owned(),
            }
        );
    }

    let sizes = std::fs::read_to_string(criterion_dir().join(SIZES_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let _ = writeln!(out, "\nToken sizes (bytes, base64url characters):\n");
    match sizes.as_ref().and_then(sizes_markdown) {
        Some(table) => {
            if let Some(grant) = sizes.as_ref().and_then(|s| s.get("grant")?.as_str()) {
                let _ = writeln!(out, "The grant: {grant}.\n");
            }
            let _ = write!(out, "{table}");
        }
        None => {
            let _ = writeln!(
                out,
                "not measured: no `{SIZES_FILE}` in this run (`cargo bench -p valet-benches --bench sizes`)"
            );
        }
    }

    let memory = run_sibling("memory");
    let allocs = run_sibling("allocs");
    let _ = writeln!(out, "\nMemory and allocations:\n");
    let _ = writeln!(out, "| measure | value |\n|---|---:|");
    let kib = |k: &str| {
        memory
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or_else(|| "not run".into(), |v| format!("{:.1} MiB", v / 1024.0))
    };
    let _ = writeln!(
        out,
        "| peak RSS (VmHWM), 1000 policies + 100 000 revoked ids, one decision | {} |",
        kib("memory.peak_rss_kib")
    );
    let _ = writeln!(
        out,
        "| RSS after that decision | {} |",
        kib("memory.rss_kib")
    );
    for (k, label) in [
        ("allocs.first", "allocations per first presentation"),
        ("allocs.repeat", "allocations per repeat presentation"),
        (
            "allocs.deny_audience",
            "allocations per wrong-audience denial",
        ),
    ] {
        let n = allocs.get(k).map_or("not run", String::as_str);
        let b = allocs
            .get(&format!("{k}_bytes"))
            .map_or("not run", String::as_str);
        let _ = writeln!(out, "| {label} | {n} ({b} bytes) |");
    }
    out
}

fn main() {
    let mut m = BTreeMap::new();
    medians(&criterion_dir(), &mut m);
    if m.is_empty() {
        eprintln!(
            "no criterion results under {}: run `cargo bench -p valet-benches` first",
            criterion_dir().display()
        );
        std::process::exit(1);
    }
    let text = report(&m);
    print!("{text}");
    if std::env::args().any(|a| a == "--write") {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let old = std::fs::read_to_string(&readme).unwrap_or_default();
        let new = match (old.find(START), old.find(END)) {
            (Some(s), Some(e)) if s < e => format!(
                "{}{START}\n{text}{}",
                old.get(..s).unwrap_or_default(),
                old.get(e..).unwrap_or_default()
            ),
            _ => format!("{old}\n{START}\n{text}{END}\n"),
        };
        if let Err(e) = std::fs::write(&readme, new) {
            eprintln!("cannot write {}: {e}", readme.display());
            std::process::exit(1);
        }
    }
}
