//! Prints one Markdown table of every benchmark median found under
//! `target/criterion/*/new/estimates.json`, then the targets as ratios of figures from that
//! run, the peak memory and the allocations per decision (run by the `memory` and `allocs`
//! binaries next to this one). With `--write`, also replaces the results section of
//! `benches/README.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const START: &str = "<!-- results:start -->";
const END: &str = "<!-- results:end -->";

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

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

struct Target {
    name: &'static str,
    goal: String,
    value: Option<String>,
    met: Option<bool>,
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
    // 1. First presentation against three raw verifies.
    let r = ratio(
        get("presentation/first"),
        get("ed25519/verify").map(|v| 3.0 * v),
    );
    targets.push(Target {
        name: "1. first presentation, 3 blocks, 100 policies / 3 raw Ed25519 verifies",
        goal: "≤ 1.3x".into(),
        value: r.map(|r| format!("{r:.2}x")),
        met: r.map(|r| r <= 1.3),
    });
    // 2. Repeat presentation against the plain composition.
    let r = ratio(
        get("plain/composition_3_blocks_100_policies"),
        get("presentation/repeat"),
    );
    targets.push(Target {
        name: "2. plain composition / repeat presentation (3 blocks, 100 policies)",
        goal: "≥ 8x".into(),
        value: r.map(|r| format!("{r:.2}x")),
        met: r.map(|r| r >= 8.0),
    });
    // 3. Policy scale.
    let r = ratio(get("policy/policies/1000"), get("policy/policies/100"));
    targets.push(Target {
        name: "3. policy evaluation, 1000 policies / 100 policies",
        goal: "≤ 2x".into(),
        value: r.map(|r| format!("{r:.2}x")),
        met: r.map(|r| r <= 2.0),
    });
    // 4. Two threads against one: twice the work in the measured time.
    let r = ratio(
        get("threads/x512/1").map(|t| 2.0 * t),
        get("threads/x512/2"),
    );
    targets.push(Target {
        name: "4. throughput, two threads / one thread",
        goal: "≥ 1.8x".into(),
        value: r.map(|r| format!("{r:.2}x")),
        met: r.map(|r| r >= 1.8),
    });
    // 5. Against Tenuo (whose authorize always checks the holder's proof of possession).
    for (name, valet, tenuo, factor) in [
        (
            "5. Tenuo root authorize / Valet first presentation, 1 block, 100 policies (no proof of possession)",
            "presentation/first_1_block",
            "tenuo/authorize_root",
            1.0,
        ),
        (
            "5. Tenuo 3-deep chain authorize / Valet first presentation, 3 blocks, 100 policies (no proof of possession)",
            "presentation/first",
            "tenuo/authorize_chain_3",
            1.0,
        ),
        (
            "5. Tenuo 3-deep chain authorize / Valet repeat presentation, 3 blocks, 100 policies (no proof of possession)",
            "presentation/repeat",
            "tenuo/authorize_chain_3",
            3.0,
        ),
        (
            "5. Tenuo root authorize / Valet repeat presentation of a holder-bound 1-block token with its proof, 100 policies",
            "holder/bound_with_proof",
            "tenuo/authorize_root",
            3.0,
        ),
        (
            "5. Tenuo denial (wrong tool) / Valet denial (wrong audience)",
            "deny/audience",
            "tenuo/deny_wrong_tool",
            1.0,
        ),
    ] {
        let r = ratio(get(tenuo), get(valet));
        targets.push(Target {
            name,
            goal: if factor > 1.0 {
                format!("≥ {factor}x (Valet {factor}x faster)")
            } else {
                "≥ 1x (Valet as fast or faster)".into()
            },
            value: match r {
                Some(r) => Some(format!("{r:.2}x")),
                None if get(tenuo).is_none() => Some("Tenuo not measured".into()),
                None => None,
            },
            met: r.map(|r| r >= factor),
        });
    }
    // 6. Fast denials.
    for id in ["deny/audience", "deny/expired", "deny/revoked"] {
        let v = get(id);
        targets.push(Target {
            name: match id {
                "deny/audience" => "6. denial, wrong audience",
                "deny/expired" => "6. denial, expired",
                _ => "6. denial, revoked id",
            },
            goal: "≤ 2 µs".into(),
            value: v.map(human),
            met: v.map(|v| v <= 2_000.0),
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
            match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            }
        );
    }

    let memory = run_sibling("memory");
    let allocs = run_sibling("allocs");
    let _ = writeln!(out, "\n7. Memory and allocations:\n");
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
