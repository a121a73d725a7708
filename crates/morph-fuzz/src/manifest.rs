//! `morph.toml` parsing ([`morph_manifest::Manifest::parse_bytes`]): any bytes end in a
//! manifest or a [`morph_manifest::ManifestError`], never a panic; a manifest that parses
//! parses again from its own text the same, and yields its requested grants.

use crate::driver::{Rng, mutate};

/// The sample manifests: where the stable runs' mutations start.
pub const SEEDS: &[&str] = &[
    include_str!("../../../extensions/hello/morph.toml"),
    include_str!("../../../extensions/github/morph.toml"),
    include_str!("../../../extensions/jira/morph.toml"),
    include_str!("../../../extensions/notion/morph.toml"),
    include_str!("../../../extensions/slack/morph.toml"),
];

/// Pieces of the manifest language, inserted by the mutations.
pub const TOKENS: &[&[u8]] = &[
    b"id = \"x\"\n",
    b"version = \"1.0.0-rc.1+b\"\n",
    b"contract = \"0.1.0\"\n",
    b"[permissions]\nrequest = [\"kv-write:10MiB\"]\n",
    b"[actions.a]\nside-effect = \"destructive\"\n",
    b"[events.e]\n",
    b"[limits]\n",
    b"memory = \"64MiB\"\n",
    b"timeout-ms = 18446744073709551615\n",
    b"\"http:GET https://*.example.com/p\"",
    b"\"secret:t@api.example.com\"",
    b"[[",
    b"]]",
    b"\"\"\"",
    b"'''",
    b"\\u{10FFFF}",
    b"\\uD800",
    b"= { a = 1 }",
    b"1e999",
    b"-0",
    b"#",
    b"\r\n",
    b"\xef\xbb\xbf",
];

/// A stable run's input: a sample manifest, mutated; sometimes random bytes.
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    if rng.one_in(10) {
        let len = rng.below(256);
        return rng.bytes(len);
    }
    let seed = rng.pick(SEEDS).as_bytes();
    mutate(rng, seed, TOKENS)
}

/// Parses `data` as a manifest.
///
/// # Errors
/// A sentence when a parsed manifest does not parse again the same from its text.
pub fn run(data: &[u8]) -> Result<(), String> {
    match morph_manifest::Manifest::parse_bytes(data) {
        Ok(manifest) => {
            let _ = manifest.requested();
            let text =
                std::str::from_utf8(data).map_err(|e| format!("parsed but not UTF-8: {e}"))?;
            match morph_manifest::Manifest::parse(text) {
                Ok(again) if again == manifest => Ok(()),
                Ok(_) => Err("the same text parsed to another manifest".into()),
                Err(e) => Err(format!("parse_bytes accepted what parse refuses: {e}")),
            }
        }
        // The message is what a user reads: building it must not panic either.
        Err(e) => {
            let _ = e.to_string();
            Ok(())
        }
    }
}
