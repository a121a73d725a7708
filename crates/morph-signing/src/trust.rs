//! The trust store: whose keys a host accepts, and which digests it refuses outright.

use crate::error::SigningError;
use crate::keys::{KeyId, PublicKey};
use morph_package::{Digest, check_field, write_atomic};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A key the host trusts to sign for one publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The public key.
    pub public_key: PublicKey,
    /// The publisher this key signs for; a signature claiming another is refused.
    pub publisher: String,
    /// A revoked key verifies nothing; it stays listed so its refusals say why.
    pub revoked: bool,
}

impl TrustedKey {
    /// The key's id.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.public_key.key_id()
    }
}

/// Trusted keys by id, and a denylist of digests (of modules, manifests or assets) that
/// are refused whoever signed them. Plain data: `Send + Sync`, cheap to clone for a few
/// hundred keys. Persist it through a [`TrustStorage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    keys: BTreeMap<KeyId, TrustedKey>,
    denied: BTreeMap<Digest, String>,
}

impl TrustStore {
    /// An empty store: it trusts no one.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `public_key` to sign for `publisher` (replacing an earlier entry for the same
    /// key, which also clears its revoked flag). Returns the key's id.
    ///
    /// # Errors
    /// [`SigningError::KeyFormat`] when `publisher` is empty, too long or holds a control
    /// character.
    pub fn add_key(
        &mut self,
        public_key: PublicKey,
        publisher: impl Into<String>,
    ) -> Result<KeyId, SigningError> {
        let publisher = publisher.into();
        check_field("publisher", &publisher).map_err(SigningError::KeyFormat)?;
        let id = public_key.key_id();
        self.keys.insert(
            id,
            TrustedKey {
                public_key,
                publisher,
                revoked: false,
            },
        );
        Ok(id)
    }

    /// Marks a key revoked: packages it signed no longer verify.
    ///
    /// # Errors
    /// [`SigningError::NoSuchKey`] when the key is not in the store.
    pub fn revoke(&mut self, key_id: &KeyId) -> Result<(), SigningError> {
        let key = self
            .keys
            .get_mut(key_id)
            .ok_or(SigningError::NoSuchKey(*key_id))?;
        key.revoked = true;
        Ok(())
    }

    /// Forgets a key entirely; returns it if it was there.
    pub fn remove_key(&mut self, key_id: &KeyId) -> Option<TrustedKey> {
        self.keys.remove(key_id)
    }

    /// The entry for `key_id`.
    #[must_use]
    pub fn key(&self, key_id: &KeyId) -> Option<&TrustedKey> {
        self.keys.get(key_id)
    }

    /// Every entry, by key id.
    pub fn keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.values()
    }

    /// Refuses `digest` from now on, with a reason shown in refusals.
    pub fn deny(&mut self, digest: Digest, reason: impl Into<String>) {
        self.denied.insert(digest, reason.into());
    }

    /// Lifts a denial; returns whether there was one.
    pub fn allow(&mut self, digest: &Digest) -> bool {
        self.denied.remove(digest).is_some()
    }

    /// The reason `digest` is denied, if it is.
    #[must_use]
    pub fn denied_reason(&self, digest: &Digest) -> Option<&str> {
        self.denied.get(digest).map(String::as_str)
    }

    /// Every denied digest with its reason.
    pub fn denied(&self) -> impl Iterator<Item = (&Digest, &str)> {
        self.denied.iter().map(|(d, r)| (d, r.as_str()))
    }
}

/// Where a trust store lives. The file implementation ([`FileTrustStorage`]) is the
/// default; the host may put the store in its database by implementing this.
pub trait TrustStorage {
    /// Reads the store (an absent store reads as empty).
    ///
    /// # Errors
    /// The storage's failure, or [`SigningError::TrustStoreFormat`] for unreadable data.
    fn load(&self) -> Result<TrustStore, SigningError>;
    /// Replaces the stored store with `store`, atomically: a crash leaves the old or the
    /// new one.
    ///
    /// # Errors
    /// The storage's failure.
    fn save(&self, store: &TrustStore) -> Result<(), SigningError>;
}

/// A trust store in one JSON file, replaced atomically (temp file, fsync, rename).
#[derive(Debug, Clone)]
pub struct FileTrustStorage {
    path: PathBuf,
}

impl FileTrustStorage {
    /// The store at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
    /// Its file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The largest trust store file read, in bytes.
const MAX_TRUST_FILE: u64 = 16 * 1024 * 1024;
const TRUST_FORMAT: &str = "morph-trust/v1";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireStore {
    format: String,
    keys: Vec<WireKey>,
    denied: Vec<WireDenied>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKey {
    key_id: String,
    publisher: String,
    revoked: bool,
    public_key: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDenied {
    digest: Digest,
    reason: String,
}

impl TrustStorage for FileTrustStorage {
    fn load(&self) -> Result<TrustStore, SigningError> {
        let path = self.path.display().to_string();
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustStore::new()),
            Err(source) => {
                return Err(SigningError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        };
        let mut bytes = Vec::new();
        file.take(MAX_TRUST_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| SigningError::Io {
                action: "reading",
                path: path.clone(),
                source,
            })?;
        let bad = |reason: String| SigningError::TrustStoreFormat {
            path: path.clone(),
            reason,
        };
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_TRUST_FILE {
            return Err(bad(format!("it is larger than {MAX_TRUST_FILE} bytes")));
        }
        let wire: WireStore = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not the expected JSON: {e}")))?;
        if wire.format != TRUST_FORMAT {
            return Err(bad(format!("format is not `{TRUST_FORMAT}`")));
        }
        let mut store = TrustStore::new();
        for k in wire.keys {
            let public_key = PublicKey::from_spki_pem(&k.public_key)
                .map_err(|e| bad(format!("key {}: {e}", k.key_id)))?;
            if public_key.key_id().to_string() != k.key_id {
                return Err(bad(format!(
                    "key {} is listed under another id than its own ({})",
                    k.key_id,
                    public_key.key_id()
                )));
            }
            let id = store
                .add_key(public_key, k.publisher)
                .map_err(|e| bad(e.to_string()))?;
            if k.revoked {
                store.revoke(&id)?;
            }
        }
        for d in wire.denied {
            store.deny(d.digest, d.reason);
        }
        Ok(store)
    }

    fn save(&self, store: &TrustStore) -> Result<(), SigningError> {
        let keys = store
            .keys()
            .map(|k| {
                Ok(WireKey {
                    key_id: k.key_id().to_string(),
                    publisher: k.publisher.clone(),
                    revoked: k.revoked,
                    public_key: k.public_key.to_spki_pem()?,
                })
            })
            .collect::<Result<Vec<_>, SigningError>>()?;
        let wire = WireStore {
            format: TRUST_FORMAT.into(),
            keys,
            denied: store
                .denied()
                .map(|(d, r)| WireDenied {
                    digest: *d,
                    reason: r.to_owned(),
                })
                .collect(),
        };
        let bytes =
            serde_json::to_vec_pretty(&wire).map_err(|e| SigningError::TrustStoreFormat {
                path: self.path.display().to_string(),
                reason: format!("cannot encode it: {e}"),
            })?;
        write_atomic(&self.path, &bytes).map_err(|source| SigningError::Io {
            action: "writing",
            path: self.path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, PrivateKey};

    #[test]
    fn a_store_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileTrustStorage::new(dir.path().join("trust.json"));
        assert_eq!(storage.load().unwrap(), TrustStore::new());

        let mut store = TrustStore::new();
        let a = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let b = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let a_id = store.add_key(a.public_key().clone(), "Acme").unwrap();
        let b_id = store.add_key(b.public_key().clone(), "Other").unwrap();
        store.revoke(&b_id).unwrap();
        store.deny(Digest::of(b"bad"), "known malware");
        storage.save(&store).unwrap();

        let back = storage.load().unwrap();
        assert_eq!(back, store);
        assert!(!back.key(&a_id).unwrap().revoked);
        assert!(back.key(&b_id).unwrap().revoked);
        assert_eq!(
            back.denied_reason(&Digest::of(b"bad")),
            Some("known malware")
        );
        // No temp file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_corrupt_store_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.json");
        std::fs::write(
            &path,
            b"{\"format\":\"morph-trust/v9\",\"keys\":[],\"denied\":[]}",
        )
        .unwrap();
        let err = FileTrustStorage::new(&path).load().unwrap_err();
        assert!(matches!(err, SigningError::TrustStoreFormat { .. }));
        assert!(err.to_string().contains("trust.json"), "{err}");
    }

    #[test]
    fn revoking_an_unknown_key_is_an_error() {
        let mut store = TrustStore::new();
        let k = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let err = store.revoke(&k.public_key().key_id()).unwrap_err();
        assert!(matches!(err, SigningError::NoSuchKey(_)));
    }
}
