/* tools/mock/gemini.c — placeholder until the gemini dialect lands: every request is a 404. */
#include "tools/mock/mock.h"

void gw_mock_gemini(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                struct gw_span body)
{
    (void)req;
    (void)path;
    (void)body;
    static const char msg[] = "{\"error\":\"not yet\"}";
    gw_mock_put_head(c, 404, "application/json", false, sizeof(msg) - 1, NULL);
    gw_mock_out_append(c, msg, sizeof(msg) - 1);
    c->plan.mode = GW_MOCK_MODE_DONE;
}

enum gw_mock_step gw_mock_gemini_step(struct gw_mock_conn *c, uint64_t now_ms)
{
    (void)c;
    (void)now_ms;
    return GW_MOCK_STEP_DONE;
}
