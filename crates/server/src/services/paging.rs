//! The one rule of a listing's page size: the `limit` a caller asks for, or the listing's
//! default, between 1 and the listing's maximum. Never reads or writes anything.

use crate::runtime::error::ApiError;

/// The page size of a listing: `given`, or `default` when absent; 400 `invalid_limit` outside
/// `1..=max`.
pub fn limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}
