/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM memslots backed by a dma-buf (KVM_MEM_DMABUF): what kvm_main.c calls
 * in virt/kvm/dmabuf.c. The fault-path side (kvm_dmabuf_get_pfn()) is in
 * <linux/kvm_host.h>, for the arch MMUs.
 */
#ifndef __KVM_DMABUF_H__
#define __KVM_DMABUF_H__

#include <linux/kvm_types.h>

struct device;

#ifdef CONFIG_KVM_DMABUF
int kvm_dmabuf_prepare_memory_region(struct kvm *kvm,
				     struct kvm_memory_slot *slot,
				     struct device *dev, unsigned int fd,
				     u64 offset);
void kvm_dmabuf_commit_memory_region(struct kvm_memory_slot *slot);
void kvm_dmabuf_unbind(struct kvm_memory_slot *slot);
void kvm_dmabuf_unbind_all(struct kvm *kvm);
#else
static inline int kvm_dmabuf_prepare_memory_region(struct kvm *kvm,
						   struct kvm_memory_slot *slot,
						   struct device *dev,
						   unsigned int fd, u64 offset)
{
	WARN_ON_ONCE(1);
	return -EIO;
}

static inline void kvm_dmabuf_commit_memory_region(struct kvm_memory_slot *slot)
{
	WARN_ON_ONCE(1);
}

static inline void kvm_dmabuf_unbind(struct kvm_memory_slot *slot)
{
	WARN_ON_ONCE(1);
}

static inline void kvm_dmabuf_unbind_all(struct kvm *kvm)
{
}
#endif /* CONFIG_KVM_DMABUF */

#endif /* __KVM_DMABUF_H__ */
