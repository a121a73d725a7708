//! The bounded fuzz runs: each target for a fixed number of seeded cases
//! (`MORPH_FUZZ_CASES` to change it, `MORPH_FUZZ_SEED` to run one case again).

use morph_fuzz::differential::{self, Verdict};
use morph_fuzz::driver::{self, Rng};

#[test]
fn differential_backends() {
    let mut agree = 0u32;
    let mut skipped = 0u32;
    let mut known = std::collections::BTreeMap::<&str, u32>::new();
    let mut classes = std::collections::BTreeMap::<String, u32>::new();
    let report = driver::run_bounded(
        "differential",
        300,
        |rng: &mut Rng| {
            let len = 256 + rng.below(8192);
            rng.bytes(len)
        },
        |data| match differential::run(data) {
            Verdict::Skipped(why) => {
                skipped += 1;
                *classes.entry(format!("skipped: {why}")).or_default() += 1;
                Ok(())
            }
            Verdict::Agree(steps) => {
                agree += 1;
                for s in steps {
                    let class: String = s
                        .outcome
                        .split_whitespace()
                        .take(if s.outcome.contains("invalid-module") {
                            8
                        } else {
                            2
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    *classes.entry(class).or_default() += 1;
                }
                Ok(())
            }
            Verdict::Known { reason, .. } => {
                *known.entry(reason).or_default() += 1;
                Ok(())
            }
            Verdict::Diverges(outcomes) => {
                Err(format!("backends diverge:\n{}", Verdict::table(&outcomes)))
            }
        },
    );
    eprintln!("differential: {agree} agreed, {skipped} skipped, known divergences {known:?}");
    eprintln!("differential: outcome classes {classes:?}");
    report.assert_clean("differential", "differential_backends");
}

#[test]
fn abi_lifting_and_lowering() {
    let mut classes = std::collections::BTreeMap::<String, u32>::new();
    let report = driver::run_bounded(
        "abi",
        20_000,
        |rng: &mut Rng| {
            let len = rng.below(2048);
            rng.bytes(len)
        },
        |data| {
            let class = morph_fuzz::abi::outcome(data)?;
            *classes
                .entry(class.unwrap_or_else(|| "no case".into()))
                .or_default() += 1;
            Ok(())
        },
    );
    eprintln!("abi: outcomes {classes:?}");
    report.assert_clean("abi", "abi_lifting_and_lowering");
}

#[test]
fn manifest_parsing() {
    let report = driver::run_bounded(
        "manifest",
        20_000,
        morph_fuzz::manifest::generate,
        morph_fuzz::manifest::run,
    );
    report.assert_clean("manifest", "manifest_parsing");
}

#[test]
fn signature_and_key_parsing() {
    let report = driver::run_bounded(
        "signing",
        10_000,
        morph_fuzz::signing::generate,
        morph_fuzz::signing::run,
    );
    report.assert_clean("signing", "signature_and_key_parsing");
}
