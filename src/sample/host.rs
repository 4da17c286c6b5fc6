//! Which machine this is, for the `started` event and `--version`: the host name
//! and the operating system, through sysinfo (the portable way to ask; read once,
//! never on the sampling path, which reads /proc directly for speed).

/// The host name, or `unknown`.
pub fn name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into())
}

/// `Linux 6.1.0 (Debian GNU/Linux 12 (bookworm)) x86_64`, as much as is known.
pub fn os() -> String {
    let arch = sysinfo::System::cpu_arch();
    let kernel = sysinfo::System::kernel_long_version().unwrap_or_else(|_| "unknown kernel".into());
    match (sysinfo::System::name(), sysinfo::System::os_version()) {
        (Ok(name), Ok(version)) => format!("{kernel} ({name} {version}) {arch}"),
        (Ok(name), Err(_)) => format!("{kernel} ({name}) {arch}"),
        _ => format!("{kernel} {arch}"),
    }
}
