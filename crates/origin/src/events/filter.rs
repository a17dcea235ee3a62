// SPDX-License-Identifier: MIT OR Apache-2.0
//! Which events a subscriber gets: `?stream=NAME` (repeatable) and `?types=a,b`.

use std::collections::BTreeSet;

use super::event::{Event, EventType};
use super::EventsError;

/// A subscriber's filter. The default takes every stream and every type but
/// `part.published`, which is sent only when `types` names it (it fires five times a second
/// per rendition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Stream names; empty: every stream.
    streams: BTreeSet<String>,
    /// Types; `None`: every type delivered by default.
    types: Option<BTreeSet<EventType>>,
    /// Signed URLs: the streams this subscriber may see; `None`: all.
    visibility: Option<crate::signing::Visibility>,
}

impl Filter {
    /// A filter from the query's `stream` values and its `types` value (comma-separated wire
    /// names; empty items are ignored). Unknown types are an error naming every one of them;
    /// a `types` that names none is an error too.
    pub fn parse<'a>(
        streams: impl IntoIterator<Item = &'a str>,
        types: Option<&str>,
    ) -> Result<Self, EventsError> {
        let types = match types {
            None => None,
            Some(list) => {
                let mut known = BTreeSet::new();
                let mut unknown = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    match name.parse::<EventType>() {
                        Ok(t) => {
                            known.insert(t);
                        }
                        Err(()) => unknown.push(name.to_owned()),
                    }
                }
                if !unknown.is_empty() {
                    return Err(EventsError::UnknownTypes(unknown));
                }
                if known.is_empty() {
                    return Err(EventsError::NoTypes);
                }
                Some(known)
            }
        };
        Ok(Filter {
            streams: streams.into_iter().map(str::to_owned).collect(),
            types,
            visibility: None,
        })
    }

    /// Only these streams (every type delivered by default).
    pub fn streams<'a>(streams: impl IntoIterator<Item = &'a str>) -> Self {
        Filter {
            streams: streams.into_iter().map(str::to_owned).collect(),
            types: None,
            visibility: None,
        }
    }

    /// Only these types (every stream).
    pub fn types(types: impl IntoIterator<Item = EventType>) -> Self {
        Filter {
            streams: BTreeSet::new(),
            types: Some(types.into_iter().collect()),
            visibility: None,
        }
    }

    /// Also hides the streams `visibility` does not show (signed URLs).
    pub fn visible(mut self, visibility: crate::signing::Visibility) -> Self {
        self.visibility = Some(visibility);
        self
    }

    /// The types named by `types`; `None`: every type delivered by default.
    pub(crate) fn named_types(&self) -> Option<&BTreeSet<EventType>> {
        self.types.as_ref()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let type_ok = match &self.types {
            Some(types) => types.contains(&event.event_type),
            None => event.event_type.delivered_by_default(),
        };
        type_ok
            && (self.streams.is_empty() || self.streams.contains(&event.stream))
            && self
                .visibility
                .as_ref()
                .is_none_or(|v| v.shows_stream(&event.stream))
    }
}
