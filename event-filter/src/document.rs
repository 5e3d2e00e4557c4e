//! What the CLI reads: a JSON event, or a whole envelope whose JSON items are events, logs,
//! transactions and the like. Attachments and other binary items pass through untouched.

use serde_json::Value;

/// A file the CLI works on.
#[derive(Debug, Clone)]
pub enum Document {
    Event(Value),
    Envelope(sentry_envelope::Envelope),
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("neither a JSON object nor a Sentry envelope: {0}")]
    Unrecognised(String),
    #[error("malformed envelope: {0}")]
    Framing(String),
}

impl Document {
    /// Reads a JSON object (an event) or an envelope.
    pub fn parse(bytes: &[u8]) -> Result<Self, DocumentError> {
        let json_error = match serde_json::from_slice::<Value>(bytes) {
            Ok(value @ Value::Object(_)) => return Ok(Self::Event(value)),
            Ok(_) => "the JSON is not an object".to_string(),
            Err(e) => e.to_string(),
        };
        let envelope =
            sentry_envelope::parse(bytes).map_err(|_| DocumentError::Unrecognised(json_error))?;
        let framing = envelope.framing_errors();
        if !framing.is_empty() {
            return Err(DocumentError::Framing(framing.join("; ")));
        }
        Ok(Self::Envelope(envelope))
    }

    /// Calls `f` with every JSON payload (the event, or each JSON item of an envelope) and a
    /// label for it; payloads `f` changed are written back.
    pub fn for_each_payload(&mut self, f: &mut dyn FnMut(&str, &mut Value)) {
        match self {
            Self::Event(value) => f("event", value),
            Self::Envelope(envelope) => {
                for (index, item) in envelope.items.iter_mut().enumerate() {
                    let Ok(mut value) = serde_json::from_slice::<Value>(&item.payload) else {
                        continue;
                    };
                    if !value.is_object() {
                        continue;
                    }
                    let before = value.clone();
                    f(&format!("item {index} ({})", item.item_type), &mut value);
                    if value != before
                        && let Ok(bytes) = serde_json::to_vec(&value)
                    {
                        item.payload = bytes;
                    }
                }
            }
        }
    }

    /// The document in its own format: pretty JSON for an event, framed bytes for an envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Event(value) => {
                let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
                out.push(b'\n');
                out
            }
            Self::Envelope(envelope) => envelope.to_bytes(),
        }
    }
}
