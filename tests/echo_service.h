/*
 * echo_service: the test-only frep.test.v1.Echo service, for the runtime's
 * tests and benchmarks. Counts its calls; Sleep blocks its worker thread.
 */
#ifndef FREP_TESTS_ECHO_SERVICE_H
#define FREP_TESTS_ECHO_SERVICE_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct echo_service echo_service;

/* Returns the service (free with echo_service_free), NULL if out of memory. */
echo_service     *echo_service_new(void);
void              echo_service_free(echo_service *e);
ProtobufCService *echo_service_base(echo_service *e);
uint64_t          echo_service_echo_calls(echo_service *e);
uint64_t          echo_service_sleep_calls(echo_service *e);

#endif /* FREP_TESTS_ECHO_SERVICE_H */
