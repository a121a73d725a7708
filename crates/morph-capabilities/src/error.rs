//! The crate's one error type: what the embedder's calls (build, register, configure)
//! fail with. A guest's host calls fail with a [`morph_abi::HostError`] instead.

use morph_store::StoreError;

/// Why building [`Capabilities`](crate::Capabilities), registering an extension or
/// setting its configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The extension was never registered with [`Capabilities::register`](crate::Capabilities::register).
    #[error("the extension `{id}` is not registered with the host's capabilities")]
    NotRegistered {
        /// The extension id.
        id: String,
    },
    /// A schema the extension declares cannot be used.
    #[error("{owner} of `{id}` declares a schema that {error}")]
    Schema {
        /// The extension id.
        id: String,
        /// Whose schema: `event \`x\``, `the configuration`.
        owner: String,
        /// What is wrong with it: where in the schema, and why.
        error: morph_schema::SchemaError,
    },
    /// A configuration does not match the extension's config schema.
    #[error("the configuration of `{id}` does not match its schema: {reason}")]
    Config {
        /// The extension id.
        id: String,
        /// What does not match.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client cannot be built: {reason}")]
    Http {
        /// reqwest's reason.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
