//! The manifest against what the module says of itself in `describe()`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use morph_permissions::SideEffect;

use crate::Manifest;

/// What a module's `describe()` says, reduced to what the manifest declares too: id,
/// version, actions with their side-effect class, event names. Built by the host from
/// the module's `ExtensionInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// The id `describe()` returns.
    pub id: String,
    /// The version `describe()` returns.
    pub version: String,
    /// The contract version the module carries (its `morph:contract` section).
    pub contract: String,
    /// Each action's name and side-effect class.
    pub actions: BTreeMap<String, SideEffect>,
    /// Each event's name.
    pub events: BTreeSet<String>,
}

impl Described {
    /// What a module of contract `contract` says of itself in `info` (its `describe()`).
    pub fn new(info: &morph_abi::ExtensionInfo, contract: &str) -> Self {
        Described {
            id: info.id.clone(),
            version: info.version.clone(),
            contract: contract.to_owned(),
            actions: info
                .actions
                .iter()
                .map(|a| (a.name.clone(), a.side_effect))
                .collect(),
            events: info.events.iter().map(|e| e.name.clone()).collect(),
        }
    }
}

/// One way the manifest and `describe()` disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Difference {
    /// The ids differ.
    Id {
        /// In morph.toml.
        manifest: String,
        /// In describe().
        described: String,
    },
    /// The versions differ (or describe()'s is not semver).
    Version {
        /// In morph.toml.
        manifest: String,
        /// In describe().
        described: String,
    },
    /// The contract versions differ.
    Contract {
        /// In morph.toml.
        manifest: String,
        /// In the module.
        module: String,
    },
    /// An action describe() offers that morph.toml does not declare.
    UndeclaredAction {
        /// Its name.
        name: String,
        /// Its class in describe().
        side_effect: SideEffect,
    },
    /// An action morph.toml declares that describe() does not offer.
    MissingAction {
        /// Its name.
        name: String,
    },
    /// An action whose side-effect class differs.
    SideEffect {
        /// Its name.
        name: String,
        /// In morph.toml.
        manifest: SideEffect,
        /// In describe().
        described: SideEffect,
    },
    /// An event describe() declares that morph.toml does not.
    UndeclaredEvent {
        /// Its name.
        name: String,
    },
    /// An event morph.toml declares that describe() does not.
    MissingEvent {
        /// Its name.
        name: String,
    },
}

/// One line of the diff: `+` in describe() only, `-` in morph.toml only, `~` in both,
/// differently. Names from describe() come from the guest and are escaped.
impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Id {
                manifest,
                described,
            } => write!(
                f,
                "~ id: {} in morph.toml, {} in describe()",
                Quoted(manifest),
                Quoted(described)
            ),
            Difference::Version {
                manifest,
                described,
            } => write!(
                f,
                "~ version: {} in morph.toml, {} in describe()",
                Quoted(manifest),
                Quoted(described)
            ),
            Difference::Contract { manifest, module } => write!(
                f,
                "~ contract: {} in morph.toml, {} in the module",
                Quoted(manifest),
                Quoted(module)
            ),
            Difference::UndeclaredAction { name, side_effect } => write!(
                f,
                "+ action {} (side-effect {side_effect}; in describe(), not in morph.toml)",
                Quoted(name)
            ),
            Difference::MissingAction { name } => {
                write!(
                    f,
                    "- action {} (in morph.toml, not in describe())",
                    Quoted(name)
                )
            }
            Difference::SideEffect {
                name,
                manifest,
                described,
            } => write!(
                f,
                "~ action {}: side-effect {manifest} in morph.toml, {described} in describe()",
                Quoted(name)
            ),
            Difference::UndeclaredEvent { name } => {
                write!(
                    f,
                    "+ event {} (in describe(), not in morph.toml)",
                    Quoted(name)
                )
            }
            Difference::MissingEvent { name } => {
                write!(
                    f,
                    "- event {} (in morph.toml, not in describe())",
                    Quoted(name)
                )
            }
        }
    }
}

/// `` `text` `` with control characters and backquotes escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`")?;
        for c in self.0.chars() {
            match c {
                '`' => f.write_str("\\`")?,
                c if c.is_control()
                    || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
                {
                    write!(f, "{}", c.escape_unicode())?;
                }
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("`")
    }
}

/// The manifest disagrees with `describe()`: every difference, in a fixed order (id,
/// version, actions by name, events by name). `Display` prints a header and one line
/// per difference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Mismatch {
    /// The differences, never empty.
    pub differences: Vec<Difference>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "morph.toml does not match the module's describe():")?;
        for d in &self.differences {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Compares the manifest with what the module's `describe()` returned: id, version
    /// (as semver), the contract version the module carries, each action and its side-effect class, each event. A manifest that
    /// passes declares exactly what the module does, so the permissions derived from
    /// its declarations ([`Manifest::requested`]) are the ones the module will need.
    ///
    /// # Errors
    /// A [`Mismatch`] listing every difference.
    pub fn check_against(&self, described: &Described) -> Result<(), Mismatch> {
        let mut differences = Vec::new();
        if self.id != described.id {
            differences.push(Difference::Id {
                manifest: self.id.clone(),
                described: described.id.clone(),
            });
        }
        if semver::Version::parse(&described.version).ok().as_ref() != Some(&self.version) {
            differences.push(Difference::Version {
                manifest: self.version.to_string(),
                described: described.version.clone(),
            });
        }
        if semver::Version::parse(&described.contract).ok().as_ref() != Some(&self.contract) {
            differences.push(Difference::Contract {
                manifest: self.contract.to_string(),
                module: described.contract.clone(),
            });
        }
        let actions = self.actions.keys().map(|n| n.as_str());
        for name in union(actions, described.actions.keys()) {
            let declared = self.actions.get(name).map(|a| a.side_effect);
            let name = name.to_owned();
            differences.extend(match (declared, described.actions.get(&name).copied()) {
                (Some(manifest), Some(described)) if manifest != described => {
                    Some(Difference::SideEffect {
                        name,
                        manifest,
                        described,
                    })
                }
                (None, Some(side_effect)) => {
                    Some(Difference::UndeclaredAction { name, side_effect })
                }
                (Some(_), None) => Some(Difference::MissingAction { name }),
                _ => None,
            });
        }
        let events = self.events.keys().map(|n| n.as_str());
        for name in union(events, &described.events) {
            let declared = self.events.contains_key(name);
            let name = name.to_owned();
            differences.extend(match (declared, described.events.contains(&name)) {
                (false, true) => Some(Difference::UndeclaredEvent { name }),
                (true, false) => Some(Difference::MissingEvent { name }),
                _ => None,
            });
        }
        match differences.is_empty() {
            true => Ok(()),
            false => Err(Mismatch { differences }),
        }
    }
}

/// Every name of either side, sorted, once.
fn union<'a>(
    manifest: impl Iterator<Item = &'a str>,
    described: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<&'a str> {
    manifest
        .chain(described.into_iter().map(String::as_str))
        .collect()
}
