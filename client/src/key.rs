//! A validated limiter key.

use std::fmt;
use std::sync::Arc;

/// The longest key accepted, in bytes. Redis takes longer ones; a limiter key this long is
/// almost surely a mistake (a whole request body used as a key).
pub const MAX_KEY_LEN: usize = 1024;

/// Why a key is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Empty,
    /// Longer than [`MAX_KEY_LEN`] bytes.
    TooLong,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("a key must not be empty"),
            KeyError::TooLong => write!(f, "a key must be at most {MAX_KEY_LEN} bytes"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A limiter key: 1 to [`MAX_KEY_LEN`] bytes, any bytes (Redis keys are binary-safe). Cheap
/// to clone. In Redis Cluster, keys limited together (`throttle_all`) need one hash tag,
/// e.g. `{user42}:sec` and `{user42}:day`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<[u8]>);

impl Key {
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Key, KeyError> {
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        if bytes.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        Ok(Key(Arc::from(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl TryFrom<&str> for Key {
    type Error = KeyError;
    fn try_from(value: &str) -> Result<Key, KeyError> {
        Key::new(value)
    }
}

impl TryFrom<String> for Key {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Key, KeyError> {
        Key::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        assert_eq!(Key::new(""), Err(KeyError::Empty));
        assert_eq!(
            Key::new(vec![b'a'; MAX_KEY_LEN + 1]),
            Err(KeyError::TooLong)
        );
        assert!(Key::new(vec![0xff; MAX_KEY_LEN]).is_ok());
        assert_eq!(
            Key::try_from("user42").map(|k| k.as_bytes().to_vec()),
            Ok(b"user42".to_vec())
        );
    }
}
