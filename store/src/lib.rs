//! drover's etcd store.
