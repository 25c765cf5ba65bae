/*
 * fuzz_samples: valid frep.v1 messages, the seeds' raw material and
 * fuzz_apply's base scope. Messages live in static storage, are built on
 * first use and are never freed; not thread-safe (fuzzers are one thread).
 */
#ifndef FREP_TESTS_FUZZ_FUZZ_SAMPLES_H
#define FREP_TESTS_FUZZ_FUZZ_SAMPLES_H

#include <protobuf-c/protobuf-c.h>

#include "frep/v1/config.pb-c.h"

/* The scope every sample names: 10.0.1.0/24. */
#define FUZZ_SAMPLE_SCOPE "10.0.1.0"

/* A realistic ScopeConfig of 10.0.1.0/24: two exclusions, three
 * reservations (one with an option), scope options in two user classes,
 * two policies with criteria, ranges and options, and the option
 * definitions and classes they use. digest is "". */
Frep__V1__ScopeConfig *fuzz_sample_scope_config(void);

/* A valid message of type d (the input of some frep method), or NULL if
 * the type has no fields worth filling (then an empty message is valid). */
const ProtobufCMessage *fuzz_sample_input(const ProtobufCMessageDescriptor *d);

#endif /* FREP_TESTS_FUZZ_FUZZ_SAMPLES_H */
