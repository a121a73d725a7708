//! `morph.toml`: the types it is read into, and the checks beyond its shape.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64};
use std::ops::Range;

use morph_permissions::{Grant, GrantSet, Name, PermissionKind, SideEffect};
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{ManifestError, ManifestErrorKind};

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// The most entries of `[permissions] request`, of `[actions]` and of `[events]`, each.
pub const MAX_ENTRIES: usize = 256;
/// The longest `id`, `name` or `publisher`, in bytes.
pub const MAX_FIELD_LEN: usize = 256;
/// The longest `description` (of the extension, an action or an event), in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// A parsed, checked `morph.toml`. See the crate docs for the format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Manifest {
    /// The extension's id: lower-case ASCII letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// Who publishes it, if named (signing needs it).
    pub publisher: Option<String>,
    /// What it does, for people.
    pub description: Option<String>,
    /// The contract version it was built against.
    pub contract: semver::Version,
    /// The grants listed under `[permissions] request`, in the order written.
    pub request: Vec<Grant>,
    /// The resources it asks for; the host caps each at its own maximum.
    pub limits: Limits,
    /// How the host runs it.
    pub runtime: Runtime,
    /// The actions it declares, by name (`actions.get("greet")` works: a [`Name`]
    /// borrows as `str`).
    pub actions: BTreeMap<Name, Action>,
    /// The events it declares, by name.
    pub events: BTreeMap<Name, Event>,
}

/// A declared action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Action {
    /// What it does to the world outside.
    pub side_effect: SideEffect,
    /// For people.
    pub description: Option<String>,
}

/// A declared event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// For people.
    pub description: Option<String>,
}

/// `[limits]`: what the extension needs per call. Each is optional and at least 1; the
/// host uses its default for one left out and never goes above its own maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Limits {
    /// Linear memory, in bytes.
    pub memory_bytes: Option<NonZeroU64>,
    /// CPU budget per call, in fuel units.
    pub fuel: Option<NonZeroU64>,
    /// Wall-clock deadline per call, in milliseconds.
    pub timeout_ms: Option<NonZeroU64>,
    /// Host calls per call.
    pub host_calls: Option<NonZeroU64>,
    /// Bytes across the boundary per call, both ways.
    pub transfer_bytes: Option<NonZeroU64>,
    /// Log bytes per call.
    pub log_bytes: Option<NonZeroU64>,
    /// Bytes of one output.
    pub output_bytes: Option<NonZeroU32>,
    /// Bytes of one input.
    pub input_bytes: Option<NonZeroU32>,
}

/// `[runtime]`: how the host runs the extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Runtime {
    /// Keep instances between calls instead of starting each call on a fresh one: the
    /// guest's state (globals, memory) then carries from one call to a later one. Off by
    /// default; an extension opts in when it keeps a cache it wants to survive, and
    /// never for data one caller must not see of another's.
    #[serde(default)]
    pub reuse_instances: bool,
}

impl Manifest {
    /// Parses and checks a manifest.
    ///
    /// # Errors
    /// A [`ManifestError`] with the line, column and field of the first problem, in
    /// this order of checks: the size ([`MAX_MANIFEST_BYTES`]); TOML syntax; then every
    /// field: unknown fields, missing required ones (`id`, `name`, `version`,
    /// `contract`), types, values (each grant parsed by `morph_permissions`, versions
    /// as semver, ids and names by their rules); then list lengths ([`MAX_ENTRIES`]),
    /// grants requested twice, and `events:` or `action:` grants listed by hand (they
    /// come from `[events]` and `[actions]`).
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::new(ManifestErrorKind::TooLarge {
                len: text.len(),
                max: MAX_MANIFEST_BYTES,
            }));
        }
        let doc = toml::de::DeTable::parse(text).map_err(|e| {
            let error = ManifestError::new(ManifestErrorKind::Syntax {
                message: e.message().to_owned(),
            });
            match e.span() {
                Some(span) => error.at(text, span.start, None),
                None => error,
            }
        })?;
        let raw = Raw::deserialize(toml::de::Deserializer::from(doc.clone())).map_err(|e| {
            let error = ManifestError::new(ManifestErrorKind::Field {
                message: e.message().to_owned(),
            });
            match e.span() {
                Some(span) => error.at(text, span.start, field_at(doc.get_ref(), span.start)),
                None => error,
            }
        })?;
        raw.check(text)
    }

    /// Parses a manifest's bytes.
    ///
    /// # Errors
    /// [`ManifestErrorKind::TooLarge`] first, [`ManifestErrorKind::NotUtf8`] at the
    /// first invalid byte, then those of [`Manifest::parse`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::new(ManifestErrorKind::TooLarge {
                len: bytes.len(),
                max: MAX_MANIFEST_BYTES,
            }));
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Manifest::parse(text),
            Err(e) => {
                let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let text = String::from_utf8_lossy(valid);
                Err(ManifestError::new(ManifestErrorKind::NotUtf8).at(&text, text.len(), None))
            }
        }
    }

    /// Everything the extension asks for: `[permissions] request`, plus `events:NAME`
    /// for each declared event and `action:destructive:NAME` for each declared
    /// destructive action.
    pub fn requested(&self) -> GrantSet {
        let events = self.events.keys().cloned().map(Grant::Events);
        let destructive = self
            .actions
            .iter()
            .filter(|(_, a)| a.side_effect == SideEffect::Destructive)
            .map(|(name, _)| Grant::Action(name.clone()));
        self.request
            .iter()
            .cloned()
            .chain(events)
            .chain(destructive)
            .collect()
    }
}

/// The dotted path of the innermost key or value at `offset` (`limits.fuel`,
/// `permissions.request[1]`).
fn field_at(table: &toml::de::DeTable<'_>, offset: usize) -> Option<String> {
    let mut path = Vec::new();
    find_in_table(table, offset, &mut path).then(|| {
        path.iter().fold(String::new(), |mut out, part| {
            if !part.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
            out
        })
    })
}

fn find_in_table(table: &toml::de::DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if key.span().contains(&offset) || find_in_value(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(
    value: &Spanned<toml::de::DeValue<'_>>,
    offset: usize,
    path: &mut Vec<String>,
) -> bool {
    let inside = match value.get_ref() {
        toml::de::DeValue::Table(table) => find_in_table(table, offset, path),
        toml::de::DeValue::Array(array) => array.iter().enumerate().any(|(i, item)| {
            path.push(format!("[{i}]"));
            let found = find_in_value(item, offset, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    };
    inside || value.span().contains(&offset)
}

/// The manifest of a Morph extension: who it is, what it asks for, what it declares.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "morph.toml")]
pub(crate) struct Raw {
    /// The extension's id: lower-case ASCII letters, digits, `-`, `_` and `.`, starting
    /// with a letter or a digit, at most 64 bytes.
    id: Id,
    /// The display name people see.
    name: Text,
    /// The extension's version (semver, e.g. `1.2.0`).
    version: Version,
    /// Who publishes it; signing needs it.
    publisher: Option<Text>,
    /// What it does, for people.
    description: Option<Description>,
    /// The contract version it was built against (semver, e.g. `0.1.0`).
    contract: Version,
    /// What the extension asks the person to grant.
    #[serde(default)]
    permissions: Permissions,
    /// What it needs per call; the host caps each at its own maximum.
    #[serde(default)]
    limits: Limits,
    /// How the host runs it.
    #[serde(default)]
    runtime: Runtime,
    /// The actions it offers, by name (as `describe()` names them).
    #[serde(default)]
    #[schemars(with = "BTreeMap<DeclName, RawAction>")]
    #[schemars(extend("maxProperties" = MAX_ENTRIES))]
    actions: Option<Spanned<BTreeMap<DeclName, RawAction>>>,
    /// The events it may emit, by name (as `describe()` names them); each is requested
    /// as `events:NAME`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<DeclName, RawEvent>")]
    #[schemars(extend("maxProperties" = MAX_ENTRIES))]
    events: Option<Spanned<BTreeMap<DeclName, RawEvent>>>,
}

/// `[permissions]`: what the extension asks the person to grant.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Permissions {
    /// The grants the extension asks for, one line each (`morph permissions
    /// --list-kinds` shows the grammar), e.g. `http:GET https://api.github.com/repos`.
    /// `events:` and `action:` grants are not listed here: they follow from `[events]`
    /// and from `[actions]` declared `destructive`.
    #[serde(default)]
    #[schemars(with = "Vec<GrantText>", extend("maxItems" = MAX_ENTRIES))]
    request: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[actions.NAME]`: an action the extension offers.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Action")]
struct RawAction {
    /// What the action does to the world outside: `none`, `read`, `write` or
    /// `destructive` (which needs its own grant, `action:destructive:NAME`).
    #[schemars(with = "SideEffectText")]
    side_effect: SideEffect,
    /// What it does, for people.
    description: Option<Description>,
}

/// `[events.NAME]`: an event the extension may emit.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Event")]
struct RawEvent {
    /// What it means, for people.
    description: Option<Description>,
}

// For the schema only; a test checks it against `SideEffect`.
/// What an action does to the world outside: `none`, `read`, `write` or `destructive`.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "SideEffect")]
#[allow(dead_code)]
pub(crate) enum SideEffectText {
    None,
    Read,
    Write,
    Destructive,
}

impl Raw {
    /// The checks beyond the shape: list lengths, duplicate and derived grants.
    fn check(self, text: &str) -> Result<Manifest, ManifestError> {
        let at = |kind, span: Range<usize>, field: &str| {
            ManifestError::new(kind).at(text, span.start, Some(field.to_owned()))
        };
        let mut request = Vec::new();
        if let Some(list) = self.permissions.request {
            bounded(
                list.get_ref().len(),
                list.span(),
                "permissions.request",
                &at,
            )?;
            for (i, grant) in list.into_inner().into_iter().enumerate() {
                let field = format!("permissions.request[{i}]");
                let span = grant.span();
                let grant: Grant = grant
                    .get_ref()
                    .parse()
                    .map_err(|e| at(ManifestErrorKind::Grant(e), span.clone(), &field))?;
                let hint = match grant.kind() {
                    PermissionKind::Events => Some("declare the event as `[events.NAME]`"),
                    PermissionKind::Action => Some(
                        "declare the action as `[actions.NAME]` with `side-effect = \"destructive\"`",
                    ),
                    _ => None,
                };
                if let Some(hint) = hint {
                    let grant = grant.to_string();
                    return Err(at(
                        ManifestErrorKind::DerivedGrant { grant, hint },
                        span,
                        &field,
                    ));
                }
                if request.contains(&grant) {
                    let grant = grant.to_string();
                    return Err(at(
                        ManifestErrorKind::DuplicateGrant { grant },
                        span,
                        &field,
                    ));
                }
                request.push(grant);
            }
        }
        let actions = match self.actions {
            None => BTreeMap::new(),
            Some(map) => {
                bounded(map.get_ref().len(), map.span(), "actions", &at)?;
                map.into_inner()
                    .into_iter()
                    .map(|(name, a)| {
                        let action = Action {
                            side_effect: a.side_effect,
                            description: a.description.map(|d| d.0),
                        };
                        (name.0, action)
                    })
                    .collect()
            }
        };
        let events = match self.events {
            None => BTreeMap::new(),
            Some(map) => {
                bounded(map.get_ref().len(), map.span(), "events", &at)?;
                map.into_inner()
                    .into_iter()
                    .map(|(name, e)| {
                        (
                            name.0,
                            Event {
                                description: e.description.map(|d| d.0),
                            },
                        )
                    })
                    .collect()
            }
        };
        Ok(Manifest {
            id: self.id.0,
            name: self.name.0,
            version: self.version.0,
            publisher: self.publisher.map(|p| p.0),
            description: self.description.map(|d| d.0),
            contract: self.contract.0,
            request,
            limits: self.limits,
            runtime: self.runtime,
            actions,
            events,
        })
    }
}

fn bounded(
    len: usize,
    span: Range<usize>,
    field: &str,
    at: &impl Fn(ManifestErrorKind, Range<usize>, &str) -> ManifestError,
) -> Result<(), ManifestError> {
    match len > MAX_ENTRIES {
        true => Err(at(
            ManifestErrorKind::TooMany {
                len,
                max: MAX_ENTRIES,
            },
            span,
            field,
        )),
        false => Ok(()),
    }
}

/// An extension id.
#[derive(Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("pattern" = r"^[a-z0-9][a-z0-9._-]{0,63}$"))]
struct Id(String);

impl TryFrom<String> for Id {
    type Error = String;

    fn try_from(id: String) -> Result<Self, String> {
        let reason = if id.is_empty() {
            "is empty"
        } else if id.len() > 64 {
            "is longer than 64 bytes"
        } else if !id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            "must start with a lower-case letter or a digit"
        } else if !id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        }) {
            "may hold only lower-case ASCII letters, digits, `-`, `_` and `.`"
        } else {
            return Ok(Id(id));
        };
        Err(format!("the id `{}` {reason}", id.escape_debug()))
    }
}

/// One line of text: not empty, at most 256 bytes, no control character, no leading or
/// trailing whitespace (package signatures are line-based statements).
#[derive(Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("minLength" = 1, "maxLength" = 256, "pattern" = r"^\S(.*\S)?$"))]
struct Text(String);

impl TryFrom<String> for Text {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let reason = if text.is_empty() {
            return Err("it is empty".to_owned());
        } else if text.len() > MAX_FIELD_LEN {
            "is longer than 256 bytes"
        } else if text.chars().any(char::is_control) {
            "holds a control character"
        } else if text.trim() != text {
            "starts or ends with whitespace"
        } else {
            return Ok(Text(text));
        };
        Err(format!("`{}` {reason}", text.escape_debug()))
    }
}

/// A text for people: at most 4096 bytes, no control character but newlines and tabs.
#[derive(Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("maxLength" = 4096))]
struct Description(String);

impl TryFrom<String> for Description {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.len() > MAX_DESCRIPTION_LEN {
            return Err(format!(
                "the description is {} bytes long (at most 4096)",
                text.len()
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(
                "the description holds a control character other than a newline or a tab"
                    .to_owned(),
            );
        }
        Ok(Description(text))
    }
}

/// A semantic version, e.g. `1.2.0`.
#[derive(Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("pattern" = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"))]
struct Version(#[schemars(with = "String")] semver::Version);

impl TryFrom<String> for Version {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        semver::Version::parse(&text).map(Version).map_err(|e| {
            format!(
                "`{}` is not a semantic version (`1.2.0`): {e}",
                text.escape_debug()
            )
        })
    }
}

/// The name of an action or an event: 1 to 64 ASCII letters, digits, `_`, `-` and `.`,
/// starting with a letter or a digit.
#[derive(PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("pattern" = NAME_PATTERN))]
struct DeclName(#[schemars(with = "String")] Name);

/// [`DeclName`]'s rule, for the schema.
const NAME_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

impl TryFrom<String> for DeclName {
    type Error = morph_permissions::Error;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Name::parse(&name).map(DeclName)
    }
}

/// A grant, for the schema: a string whose kind is one the manifest may request.
pub(crate) struct GrantText;

impl GrantText {
    /// The kinds `[permissions] request` may hold (`events` and `action` grants are
    /// derived from the declarations).
    pub(crate) fn kinds() -> impl Iterator<Item = &'static morph_permissions::KindDoc> {
        morph_permissions::kinds()
            .iter()
            .filter(|d| !matches!(d.kind, PermissionKind::Events | PermissionKind::Action))
    }
}

impl JsonSchema for GrantText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Grant".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<_> = GrantText::kinds().map(|d| d.name).collect();
        let syntax: Vec<_> = GrantText::kinds().map(|d| d.syntax).collect();
        schemars::json_schema!({
            "type": "string",
            "pattern": format!("^({})(:.+)?$", names.join("|")),
            "maxLength": morph_permissions::MAX_GRANT_LEN,
            "description": format!("One grant:\n{}", syntax.join("\n")),
        })
    }
}
