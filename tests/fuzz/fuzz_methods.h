/*
 * fuzz_methods: every method of every frep service, in one fixed order,
 * so a fuzz input's first byte (and a seed's) names the same method in
 * fuzz_request and make_corpus.
 */
#ifndef FREP_TESTS_FUZZ_FUZZ_METHODS_H
#define FREP_TESTS_FUZZ_FUZZ_METHODS_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* The services, in table order (frep.v1.DhcpServer first). */
extern const ProtobufCServiceDescriptor *const fuzz_services[];
extern const size_t                            fuzz_n_services;

/* Number of methods over all services. */
size_t fuzz_method_count(void);

/* Method i (0 <= i < fuzz_method_count()) and its service in *svc. */
const ProtobufCMethodDescriptor *fuzz_method_at(size_t i, const ProtobufCServiceDescriptor **svc);

/* "/frep.v1.DhcpServer/AddScope" for method i into buf (NUL-terminated,
 * truncated to cap). */
void fuzz_method_path(size_t i, char *buf, size_t cap);

#endif /* FREP_TESTS_FUZZ_FUZZ_METHODS_H */
