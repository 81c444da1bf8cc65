//! `vm bpf-objects` in the guest: how many BPF programs and links the kernel
//! holds. The guest runs no other BPF user, so after a release both must be 0.

fn count(next: unsafe extern "C" fn(u32, *mut u32) -> i32) -> usize {
    let (mut id, mut n) = (0u32, 0usize);
    // SAFETY: the libbpf wrappers only write the next id into the local.
    while unsafe { next(id, &mut id) } == 0 {
        n += 1;
    }
    n
}

pub fn main() -> i32 {
    let programs = count(libbpf_sys::bpf_prog_get_next_id);
    let links = count(libbpf_sys::bpf_link_get_next_id);
    println!("programs {programs} links {links}");
    0
}
