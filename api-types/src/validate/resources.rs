//! Task resources, log rotation, and the group's ephemeral disk.

use crate::group::TaskGroup;
use crate::task::Task;

use super::Report;

/// Nomad's smallest memory reservation, in MB.
pub(super) const MIN_MEMORY_MB: i64 = 10;

pub(super) fn validate_task_resources(report: &mut Report, task_path: &str, task: &Task) {
    let path = format!("{task_path} resources");
    let resources = &task.resources;
    match resources.cores {
        Some(cores) if cores < 1 => report.error(
            &path,
            format!("cores {cores} is not valid; use 1 or more, or leave cores out and set cpu"),
        ),
        Some(_) => {}
        None if resources.cpu < 1 => report.error(
            &path,
            format!(
                "cpu {} MHz is too low; use at least 1 (or reserve whole cores with cores)",
                resources.cpu
            ),
        ),
        None => {}
    }
    if resources.memory < MIN_MEMORY_MB {
        report.error(
            &path,
            format!(
                "memory {} MB is too low; use at least {MIN_MEMORY_MB}",
                resources.memory
            ),
        );
    }
    if let Some(max) = resources.memory_max {
        if max < resources.memory {
            report.error(
                &path,
                format!(
                    "memory_max ({max} MB) must be at least memory ({} MB)",
                    resources.memory
                ),
            );
        }
    }
    if let Some(disk) = resources.disk.filter(|d| *d < 0) {
        report.error(&path, format!("disk {disk} MB is negative; use 0 or more"));
    }
}

/// Log rotation; `disk_mb` is the group's ephemeral disk, which must hold
/// the task's logs with room to spare (Nomad's rule).
pub(super) fn validate_task_logs(
    report: &mut Report,
    task_path: &str,
    task: &Task,
    disk_mb: Option<i64>,
) {
    let path = format!("{task_path} logs");
    let logs = &task.logs;
    if logs.max_files < 1 {
        report.error(
            &path,
            format!("max_files {} is too low; use 1 or more", logs.max_files),
        );
    }
    if logs.max_file_size < 1 {
        report.error(
            &path,
            format!(
                "max_file_size {} MB is too low; use 1 or more",
                logs.max_file_size
            ),
        );
    }
    let usage = logs.max_files.saturating_mul(logs.max_file_size);
    if let Some(disk) = disk_mb.filter(|d| *d >= 0 && usage >= 1 && !logs.disabled) {
        if usage >= disk {
            report.error(
                &path,
                format!(
                    "log storage ({usage} MB = max_files × max_file_size) must be less than the group's ephemeral_disk size ({disk} MB); lower max_files or max_file_size, or raise the disk size"
                ),
            );
        }
    }
}

pub(super) fn validate_group_disk(report: &mut Report, group_path: &str, group: &TaskGroup) {
    if let Some(disk) = group.ephemeral_disk.as_ref().filter(|d| d.size < 0) {
        report.error(
            &format!("{group_path} ephemeral_disk"),
            format!("size {} MB is negative; use 0 or more", disk.size),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_diags, group, task, GROUP, TASK};

    #[test]
    fn cpu_cores_memory_disk() {
        let res = format!("error: {TASK} resources");
        assert_diags(
            |job| task(job).resources.cpu = 0,
            &[&format!(
                "{res}: cpu 0 MHz is too low; use at least 1 (or reserve whole cores with cores)"
            )],
        );
        assert_diags(
            |job| {
                task(job).resources.cpu = 0;
                task(job).resources.cores = Some(2);
            },
            &[],
        );
        assert_diags(
            |job| task(job).resources.cores = Some(0),
            &[&format!(
                "{res}: cores 0 is not valid; use 1 or more, or leave cores out and set cpu"
            )],
        );
        assert_diags(
            |job| task(job).resources.memory = 9,
            &[&format!("{res}: memory 9 MB is too low; use at least 10")],
        );
        assert_diags(
            |job| task(job).resources.disk = Some(-1),
            &[&format!("{res}: disk -1 MB is negative; use 0 or more")],
        );
    }

    #[test]
    fn memory_max_below_memory() {
        assert_diags(
            |job| {
                task(job).resources.memory = 256;
                task(job).resources.memory_max = Some(200);
            },
            &[&format!(
                "error: {TASK} resources: memory_max (200 MB) must be at least memory (256 MB)"
            )],
        );
        assert_diags(
            |job| {
                task(job).resources.memory = 256;
                task(job).resources.memory_max = Some(256);
            },
            &[],
        );
    }

    #[test]
    fn logs_and_ephemeral_disk() {
        assert_diags(
            |job| {
                task(job).logs.max_files = 0;
                task(job).logs.max_file_size = 0;
            },
            &[
                &format!("error: {TASK} logs: max_files 0 is too low; use 1 or more"),
                &format!("error: {TASK} logs: max_file_size 0 MB is too low; use 1 or more"),
            ],
        );
        assert_diags(
            |job| task(job).logs.max_files = 30,
            &[&format!("error: {TASK} logs: log storage (300 MB = max_files × max_file_size) must be less than the group's ephemeral_disk size (300 MB); lower max_files or max_file_size, or raise the disk size")],
        );
        assert_diags(
            |job| {
                if let Some(disk) = group(job).ephemeral_disk.as_mut() {
                    disk.size = -5;
                }
            },
            &[&format!(
                "error: {GROUP} ephemeral_disk: size -5 MB is negative; use 0 or more"
            )],
        );
    }
}
