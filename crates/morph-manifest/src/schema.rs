//! The JSON Schema of `morph.toml`, generated from the types it is parsed into.

use crate::Manifest;
use crate::manifest::Raw;

impl Manifest {
    /// The JSON Schema (draft 7, which editors' TOML plugins read) of `morph.toml`,
    /// generated from the types the parser reads it into, so it cannot drift from them.
    /// The repository keeps a copy in `schemas/morph.toml.schema.json`, checked by a
    /// test.
    ///
    /// The schema checks the shape (fields, types, name and version patterns, the kind
    /// of each grant); the parser checks more (each grant's whole grammar, list lengths).
    pub fn json_schema() -> serde_json::Value {
        schemars::generate::SchemaSettings::draft07()
            .with_transform(schemars::transform::RecursiveTransform(without_null))
            .into_generator()
            .into_root_schema_for::<Raw>()
            .to_value()
    }
}

/// TOML has no null: an optional field is one that may be left out, so `null` leaves
/// `type` lists, `{"type": "null"}` leaves `anyOf`, and `"default": null` goes.
fn without_null(schema: &mut schemars::Schema) {
    use serde_json::Value;
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".to_owned(), only);
        }
    }
    if let Some(Value::Array(any)) = object.get_mut("anyOf") {
        any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
        if let [only] = any.as_slice() {
            let only = only.clone();
            object.remove("anyOf");
            object.insert("allOf".to_owned(), Value::Array(vec![only]));
        }
    }
    if object.get("default") == Some(&Value::Null) {
        object.remove("default");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::SideEffectText;
    use morph_permissions::SideEffect;

    const BLESS: &str = "MORPH_BLESS";

    #[test]
    fn the_checked_in_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/morph.toml.schema.json");
        let want = serde_json::to_string_pretty(&Manifest::json_schema()).unwrap() + "\n";
        if std::env::var_os(BLESS).is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "schemas/morph.toml.schema.json differs from the schema of the types in \
             crates/morph-manifest; if the change is meant, write it anew with \
             `{BLESS}=1 cargo test -p morph-manifest` and commit it"
        );
    }

    #[test]
    fn the_schema_lists_every_side_effect_class() {
        let schema = schemars::schema_for!(SideEffectText).to_value();
        let names = schema["enum"].as_array().unwrap();
        let classes: Vec<SideEffect> = names
            .iter()
            .map(|n| serde_json::from_value(n.clone()).unwrap())
            .collect();
        assert_eq!(
            classes,
            [
                SideEffect::None,
                SideEffect::Read,
                SideEffect::Write,
                SideEffect::Destructive
            ]
        );
    }

    #[test]
    fn the_schema_accepts_what_the_parser_accepts_and_refuses_what_it_refuses() {
        let schema = Manifest::json_schema();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let hello = include_str!("../../../extensions/hello/morph.toml");
        for good in [crate::tests::FULL, hello] {
            let value: serde_json::Value = toml::from_str(good).unwrap();
            let errors: Vec<_> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
        for bad in [
            "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\ncolour = 1",
            "id = \"X\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"",
            "id = \"x\"\nname = \"X\"\nversion = \"1.0\"\ncontract = \"0.1.0\"",
            "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n[permissions]\nrequest = [\"events:x\"]",
            "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n[limits]\nfuel = 0",
            "id = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n[actions.a]\nside-effect = \"big\"",
        ] {
            let value: serde_json::Value = toml::from_str(bad).unwrap();
            assert!(!validator.is_valid(&value), "{bad}");
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }
}
