// SPDX-License-Identifier: MIT OR Apache-2.0
//! Output directories of `package`: written atomically, and never at the cost of files
//! hlsorigin did not write.
//!
//! - OUT is written as a hidden sibling `.OUT.tmp-RUN` and renamed onto OUT only when packaging
//!   succeeded; an existing OUT is first moved into `.OUT.old-RUN/previous` and removed after the
//!   swap (put back if the swap fails).
//! - Every output carries the marker file [`MARKER`] (`.hlsorigin`; a dotfile, so the origin
//!   never serves it). An existing OUT is replaced only if it is empty or holds the marker (a
//!   previous output), or with `--force`; never when it is not a directory, and never when the
//!   input lies inside it.
//! - Each directory hlsorigin creates beside OUT holds the marker from its first moment, locked
//!   (`flock`) by the process that created it for as long as that process lives. A later run
//!   removes `.OUT.tmp-*` / `.OUT.old-*` directories whose marker is no longer locked (their
//!   process died: SIGKILL, a crash, power loss) and leaves alone those of a running process and
//!   anything without the marker.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Name of the marker file in every output directory and every temporary directory.
pub const MARKER: &str = ".hlsorigin";
/// First line of the marker file.
const MAGIC: &str = "hlsorigin output";
/// Files that also mark an earlier hlsorigin output: the default run's source stamp, written
/// before the marker existed.
const LEGACY_MARKERS: &[&str] = &[".hlsorigin-source"];

/// Where an output goes: `parent/name`.
#[derive(Debug)]
pub struct Target {
    dir: PathBuf,
    parent: PathBuf,
    name: OsString,
    /// How messages name the directory (`-o out`, or the path) and what they suggest.
    label: String,
    elsewhere: &'static str,
    force: &'static str,
}

/// What is at the target path now.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    Nothing,
    /// An empty directory, or a previous hlsorigin output: replaced.
    Ours,
    /// A directory with other content: replaced only with `--force`.
    Foreign,
    /// A symbolic link (replacing it would not replace what it points to).
    Symlink,
    /// A file or anything else that is not a directory.
    NotADirectory,
}

impl Target {
    /// The output directory `dir` of `package -o DIR`; its last component must be a name.
    pub fn new(dir: &Path) -> Result<Self> {
        let mut t = Self::managed(dir)?;
        t.label = format!("-o {}", dir.display());
        t.elsewhere = "choose another -o";
        t.force = ", or pass --force to replace all of it";
        Ok(t)
    }

    /// An output directory hlsorigin chose itself (the default run's `playlists/NAME`).
    pub fn managed(dir: &Path) -> Result<Self> {
        let Some(name) = dir.file_name() else {
            bail!(
                "-o {}: name the output directory, e.g. -o out (it is created, or replaced \
                 as a whole)",
                dir.display()
            );
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Target {
            dir: dir.to_path_buf(),
            parent,
            name: name.to_owned(),
            label: dir.display().to_string(),
            elsewhere: "move it out of the way, or rename the source",
            force: "",
        })
    }

    fn sibling(&self, kind: &str, run_id: &str) -> PathBuf {
        let mut n = OsString::from(".");
        n.push(&self.name);
        n.push(format!(".{kind}-{run_id}"));
        self.parent.join(n)
    }

    fn existing(&self) -> Result<Existing> {
        let meta = match fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
            other => other.with_context(|| format!("{}: cannot inspect it", self.label))?,
        };
        if meta.file_type().is_symlink() {
            return Ok(Existing::Symlink);
        }
        if !meta.is_dir() {
            return Ok(Existing::NotADirectory);
        }
        if is_marked(&self.dir) {
            return Ok(Existing::Ours);
        }
        let mut entries =
            fs::read_dir(&self.dir).with_context(|| format!("{}: cannot read it", self.label))?;
        Ok(match entries.next() {
            None => Existing::Ours,
            Some(_) => Existing::Foreign,
        })
    }

    /// Fails unless packaging `input` may replace what is at the target now.
    pub fn check(&self, input: &Path, force: bool) -> Result<()> {
        let (out, elsewhere) = (&self.label, self.elsewhere);
        let existing = self.existing()?;
        match existing {
            Existing::NotADirectory => bail!(
                "{out}: exists and is not a directory; hlsorigin replaces only directories \
                 ({elsewhere})"
            ),
            Existing::Symlink => {
                bail!("{out}: is a symbolic link; give the directory it points to, or {elsewhere}")
            }
            _ => {}
        }
        let inside = match (fs::canonicalize(input), fs::canonicalize(&self.dir)) {
            (Ok(i), Ok(o)) => i.starts_with(o),
            _ => false,
        };
        if inside {
            bail!(
                "{out}: the input {} is inside it and would be deleted with it; {elsewhere}",
                input.display()
            );
        }
        if existing == Existing::Foreign && !force {
            bail!(
                "{out}: directory is not empty and is not an hlsorigin output (it has no \
                 {MARKER} file); {elsewhere}{}",
                self.force
            );
        }
        Ok(())
    }

    /// Removes `.NAME.tmp-*` and `.NAME.old-*` directories left by hlsorigin processes that
    /// died (their marker is no longer locked). Returns the directories removed.
    pub fn remove_stale(&self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return removed;
        };
        let mut prefix = OsString::from(".");
        prefix.push(&self.name);
        let prefix = prefix.to_string_lossy().into_owned();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let n = file_name.to_string_lossy();
            let ours = n
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.starts_with(".tmp-") || rest.starts_with(".old-"));
            if !ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if abandoned(&path) && fs::remove_dir_all(&path).is_ok() {
                tracing::info!("removed {} (left by an interrupted run)", path.display());
                removed.push(path);
            }
        }
        removed
    }

    /// Creates the temporary directory `.NAME.tmp-RUN`, marked and locked.
    pub fn stage(&self, run_id: &str) -> Result<Staging> {
        let tmp = self.sibling("tmp", run_id);
        let lock = create_marked(&tmp, run_id).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot create a directory in {}: {e}; choose a location you can write to",
                self.label,
                self.parent.display()
            )
        })?;
        Ok(Staging {
            tmp,
            run_id: run_id.to_owned(),
            committed: false,
            _lock: lock,
        })
    }
}

/// The temporary output directory; removed on drop unless committed.
#[derive(Debug)]
pub struct Staging {
    tmp: PathBuf,
    run_id: String,
    /// Renamed onto the target: nothing left to remove.
    committed: bool,
    /// The locked marker: tells other runs this directory is in use.
    _lock: File,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the temporary directory onto the target, replacing what is there (checked
    /// again: it may have changed while packaging).
    pub fn commit(mut self, target: &Target, input: &Path, force: bool) -> Result<()> {
        target.check(input, force)?;
        let out = target.dir.display();
        if fs::symlink_metadata(&target.dir).is_err() {
            fs::rename(&self.tmp, &target.dir)
                .with_context(|| format!("cannot move the output into {out}"))?;
            self.committed = true;
            return Ok(());
        }
        let old = target.sibling("old", &self.run_id);
        let _old_lock = create_marked(&old, &self.run_id)
            .with_context(|| format!("cannot create {}", old.display()))?;
        let previous = old.join("previous");
        let swapped = fs::rename(&target.dir, &previous)
            .with_context(|| format!("cannot replace {out}"))
            .and_then(|()| {
                fs::rename(&self.tmp, &target.dir).or_else(|e| {
                    let _ = fs::rename(&previous, &target.dir);
                    Err(e).with_context(|| format!("cannot move the output into {out}"))
                })
            });
        let _ = fs::remove_dir_all(&old);
        self.committed = swapped.is_ok();
        swapped
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Creates `dir` with the marker file in it, locked; the lock lasts as long as the file.
fn create_marked(dir: &Path, run_id: &str) -> io::Result<File> {
    // `-o a/b/c` creates the missing parents, like `mkdir -p`.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    fs::create_dir(dir)?;
    // Created empty, then locked, then written: a marker is never seen complete and unlocked
    // while its process lives.
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join(MARKER))?;
    // A filesystem without flock support: other runs cannot take the lock either, so they
    // never take this directory for abandoned.
    if let Err(e) = f.try_lock() {
        tracing::debug!("cannot lock {}: {e}", dir.join(MARKER).display());
    }
    write!(
        f,
        "{MAGIC}\nversion {}\nrun {run_id}\npid {}\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )?;
    Ok(f)
}

fn read_marker(dir: &Path) -> Option<File> {
    let mut f = File::open(dir.join(MARKER)).ok()?;
    let mut head = [0u8; MAGIC.len()];
    f.read_exact(&mut head).ok()?;
    (head == *MAGIC.as_bytes()).then_some(f)
}

/// Whether `dir` is (or was) an hlsorigin output.
fn is_marked(dir: &Path) -> bool {
    read_marker(dir).is_some() || LEGACY_MARKERS.iter().any(|m| dir.join(m).is_file())
}

/// Whether `dir` is an hlsorigin temporary directory whose process is gone: it has the
/// marker, and the marker's lock can be taken.
fn abandoned(dir: &Path) -> bool {
    read_marker(dir).is_some_and(|f| f.try_lock().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// What may be replaced: (setup, force, error that must appear or None).
    #[test]
    fn what_may_be_replaced() {
        type Setup = fn(&Path);
        let cases: &[(&str, Setup, bool, Option<&str>)] = &[
            ("missing", |_| {}, false, None),
            ("empty dir", |o| fs::create_dir(o).unwrap(), false, None),
            (
                "previous output",
                |o| {
                    create_marked(o, "r1").unwrap();
                    fs::write(o.join("master.m3u8"), "x").unwrap();
                },
                false,
                None,
            ),
            (
                "default run's output",
                |o| {
                    fs::create_dir(o).unwrap();
                    fs::write(o.join(".hlsorigin-source"), "x").unwrap();
                },
                false,
                None,
            ),
            (
                "foreign dir",
                |o| {
                    fs::create_dir(o).unwrap();
                    fs::write(o.join("notes.txt"), "mine").unwrap();
                },
                false,
                Some("--force"),
            ),
            (
                "foreign dir, forced",
                |o| {
                    fs::create_dir(o).unwrap();
                    fs::write(o.join("notes.txt"), "mine").unwrap();
                },
                true,
                None,
            ),
            (
                "fake marker",
                |o| {
                    fs::create_dir(o).unwrap();
                    fs::write(o.join(MARKER), "something else").unwrap();
                },
                false,
                Some("not an hlsorigin output"),
            ),
            (
                "file",
                |o| fs::write(o, "x").unwrap(),
                true,
                Some("not a directory"),
            ),
            (
                "symlink to a previous output",
                |o| {
                    let real = o.with_file_name("real");
                    create_marked(&real, "r1").unwrap();
                    std::os::unix::fs::symlink(&real, o).unwrap();
                },
                true,
                Some("symbolic link"),
            ),
            (
                "input inside, forced",
                |o| {
                    fs::create_dir(o).unwrap();
                    fs::write(o.join("in.mp4"), "x").unwrap();
                },
                true,
                Some("is inside it"),
            ),
        ];
        for (case, setup, force, want) in cases {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("out");
            setup(&out);
            let input = if case.starts_with("input inside") {
                out.join("in.mp4")
            } else {
                root.path().join("in.mp4")
            };
            let got = Target::new(&out).unwrap().check(&input, *force);
            match (got, want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{case}: {e}"),
                (got, want) => panic!("{case}: got {got:?}, want error {want:?}"),
            }
        }
        // The default run names no flags it does not have.
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = Target::managed(&out)
            .unwrap()
            .check(Path::new("in.mp4"), false);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("rename the source") && !e.contains("-o"), "{e}");
        for bad in [".", "..", "a/.."] {
            let e = Target::new(Path::new(bad)).unwrap_err().to_string();
            assert!(e.contains("name the output directory"), "{bad}: {e}");
        }
    }

    /// `-o a/b/out` with `a/b` missing creates them, as before the marker existed.
    #[test]
    fn missing_parents_are_created() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b/out");
        let target = Target::new(&out).unwrap();
        let staging = target.stage("r1").unwrap();
        staging
            .commit(&target, &root.path().join("in.mp4"), false)
            .unwrap();
        assert_eq!(names(&out), [MARKER]);
    }

    #[test]
    fn commit_replaces_previous_output_and_drop_removes_the_partial_one() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let input = root.path().join("in.mp4");
        let target = Target::new(&out).unwrap();
        for run in ["r1", "r2"] {
            let staging = target.stage(run).unwrap();
            fs::write(staging.path().join(format!("{run}.m3u8")), run).unwrap();
            staging.commit(&target, &input, false).unwrap();
        }
        assert_eq!(names(&out), [MARKER, "r2.m3u8"]);
        assert_eq!(names(root.path()), ["out"]);

        let staging = target.stage("r3").unwrap();
        fs::write(staging.path().join("partial"), "x").unwrap();
        drop(staging);
        assert_eq!(names(root.path()), ["out"]);
    }

    /// Only abandoned directories of our own are removed: not a running process's, not one
    /// without the marker, not another output's.
    #[test]
    fn stale_directories_of_dead_runs_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        let target = Target::new(&p.join("out")).unwrap();
        // A dead run's: marker present, nobody holds its lock.
        drop(create_marked(&p.join(".out.tmp-dead"), "dead").unwrap());
        fs::write(p.join(".out.tmp-dead/seg.m4s"), "x").unwrap();
        drop(create_marked(&p.join(".out.old-dead"), "dead").unwrap());
        // A running process's: its lock is held.
        let live = target.stage("live").unwrap();
        // Not ours: no marker, or another output's name, or not a directory.
        fs::create_dir(p.join(".out.tmp-user")).unwrap();
        drop(create_marked(&p.join(".other.tmp-dead"), "dead").unwrap());
        fs::write(p.join(".out.tmp-file"), "x").unwrap();

        let removed = target.remove_stale();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(
            names(p),
            [
                ".other.tmp-dead",
                ".out.tmp-file",
                ".out.tmp-live",
                ".out.tmp-user"
            ]
        );
        drop(live);
        assert!(!p.join(".out.tmp-live").exists());
    }
}
