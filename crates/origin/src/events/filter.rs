// SPDX-License-Identifier: MIT OR Apache-2.0
//! Which events a subscriber gets: `?stream=NAME` (repeatable) and `?types=a,b`.

use std::collections::BTreeSet;

use super::event::{Event, EventType};
use super::EventsError;

/// A subscriber's filter. The default takes every stream and every type but
/// `part.published`, which is sent only when `types` names it (it fires five times a second
/// per rendition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Stream names; empty: every stream.
    streams: BTreeSet<String>,
    /// Types; `None`: every type delivered by default.
    types: Option<BTreeSet<EventType>>,
    /// The types that pass, one bit each ([`bit`]): `types`, or those delivered by default.
    /// Kept inline so that a publish, which asks every subscriber, does not follow a pointer
    /// per subscriber to the set.
    mask: u16,
    /// Signed URLs: the streams this subscriber may see; `None`: all.
    visibility: Option<crate::signing::Visibility>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::of([], None)
    }
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
        Ok(Filter::of(streams, types))
    }

    /// Only these streams (every type delivered by default).
    pub fn streams<'a>(streams: impl IntoIterator<Item = &'a str>) -> Self {
        Filter::of(streams, None)
    }

    /// Only these types (every stream).
    pub fn types(types: impl IntoIterator<Item = EventType>) -> Self {
        Filter::of([], Some(types.into_iter().collect()))
    }

    fn of<'a>(
        streams: impl IntoIterator<Item = &'a str>,
        types: Option<BTreeSet<EventType>>,
    ) -> Self {
        let mask = match &types {
            Some(types) => types.iter().fold(0, |m, &t| m | bit(t)),
            None => EventType::ALL
                .iter()
                .filter(|t| t.delivered_by_default())
                .fold(0, |m, &t| m | bit(t)),
        };
        Filter {
            streams: streams.into_iter().map(str::to_owned).collect(),
            types,
            mask,
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
        self.mask & bit(event.event_type) != 0
            && (self.streams.is_empty() || self.streams.contains(&event.stream))
            && self
                .visibility
                .as_ref()
                .is_none_or(|v| v.shows_stream(&event.stream))
    }
}

// Every type has a bit in the mask.
const _: () = assert!(EventType::ALL.len() <= u16::BITS as usize);

/// The bit of `t` in [`Filter`]'s mask.
fn bit(t: EventType) -> u16 {
    1 << (t as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_has_its_own_bit_and_the_default_leaves_out_parts_only() {
        let all = EventType::ALL.iter().fold(0u16, |m, &t| m | bit(t));
        assert_eq!(all.count_ones() as usize, EventType::ALL.len());
        for t in EventType::ALL {
            let only = Filter::types([t]);
            let passes: Vec<EventType> = EventType::ALL
                .into_iter()
                .filter(|&u| only.mask & bit(u) != 0)
                .collect();
            assert_eq!(passes, [t], "types={t}");
            let by_default = Filter::default().mask & bit(t) != 0;
            assert_eq!(by_default, t != EventType::PartPublished, "{t} by default");
            assert_eq!(Filter::streams(["s"]).mask, Filter::default().mask);
        }
    }
}
