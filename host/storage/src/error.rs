//! The storage layer's error type.

/// Everything that can go wrong below the service layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row held data this code cannot interpret (e.g. corrupt JSON).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// Table the row came from.
        table: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The schema in the database cannot be used by this binary.
    #[error("{0}")]
    Schema(String),
}

impl StorageError {
    /// True when the failure is a unique-constraint violation, which callers
    /// turn into "already exists" answers rather than internal errors.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }
}

/// Result alias used across the crate.
pub type StorageResult<T> = Result<T, StorageError>;
