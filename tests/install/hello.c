/* An out-of-tree program built against the installed frep client: calls
 * Health/Check through the generated stub. Usage: hello URL */
#include <stdio.h>

#include <frep/v1/health.pb-c.h>
#include <frep_client.h>

static void
done(const Frep__V1__HealthCheckResponse *msg, void *data)
{
	*(int *) data = msg != NULL ? (int) msg->status : -1;
}

int
main(int argc, char **argv)
{
	frep_client *c = NULL;
	frep_status  st;
	int          status = -1;
	if (argc != 2) {
		fprintf(stderr, "usage: hello URL\n");
		return 2;
	}
	if (frep_client_open(argv[1], NULL, &c, &st) != FREP_OK) {
		fprintf(stderr, "%s: %s\n", frep_code_name(st.code), st.message);
		return 1;
	}
	ProtobufCService            *health = frep_client_service(c, &frep__v1__health__descriptor);
	Frep__V1__HealthCheckRequest req    = FREP__V1__HEALTH_CHECK_REQUEST__INIT;
	frep__v1__health__check(health, &req, done, &status);
	if (status < 0) {
		frep_client_last_status(c, &st);
		fprintf(stderr, "%s: %s\n", frep_code_name(st.code), st.message);
	} else {
		printf("%s\n", status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
				   ? "SERVING"
				   : "NOT_SERVING");
	}
	frep_client_close(c);
	return status == FREP__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0 : 1;
}
