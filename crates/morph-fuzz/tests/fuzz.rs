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
