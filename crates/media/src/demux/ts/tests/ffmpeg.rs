//! ffmpeg tests (todo)
