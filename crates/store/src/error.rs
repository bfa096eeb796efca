//! The store's one error type.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated, e.g. a username that is already taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// A stored row could not be decoded into its domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Turns a unique violation into [`StoreError::Conflict`] with `what` as its message; every
    /// other error becomes [`StoreError::Database`].
    pub(crate) fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
        if is_unique_violation(&err) {
            StoreError::Conflict(what())
        } else {
            StoreError::Database(err)
        }
    }
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
