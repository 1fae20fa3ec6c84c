/* bl_invoice_render.c — an invoice as JSON, CSV and a printable HTML page (bl_invoice.h). */
#include <inttypes.h>
#include <string.h>
#include "bl_invoice.h"
#include "bl_record.h"
#include "util/json_write.h"

/* The lines summed (the total row of CSV and HTML; cost is inv->total, the same sum). */
static bl_invoice_line_t sum_lines(const bl_invoice_t *inv)
{
    bl_invoice_line_t t = {.model = "TOTAL"};
    for (size_t i = 0; i < inv->nlines; i++) {
        const bl_invoice_line_t *l = &inv->lines[i];
        t.requests += l->requests;
        t.prompt += l->prompt;
        t.cached += l->cached;
        t.completion += l->completion;
        t.audio_ms += l->audio_ms;
    }
    t.cost = inv->total;
    return t;
}

void bl_invoice_json(ig_buf_t *b, const bl_invoice_t *inv)
{
    int issued = inv->number[0] != '\0';
    ig_buf_lit(b, "{\"object\":\"invoice\",\"number\":");
    ig_json_write_cstr(b, issued ? inv->number : NULL);
    ig_buf_puts(b, issued ? ",\"status\":\"issued\",\"customer\":" : ",\"status\":\"draft\",\"customer\":");
    ig_json_write_cstr(b, inv->customer);
    ig_buf_lit(b, ",\"month\":");
    ig_json_write_cstr(b, inv->month);
    ig_buf_lit(b, ",\"currency\":");
    ig_json_write_cstr(b, inv->currency);
    if (issued)
        ig_buf_printf(b, ",\"issued_at\":%" PRId64, inv->issued_at);
    else
        ig_buf_lit(b, ",\"issued_at\":null");
    ig_buf_printf(b, ",\"records\":%" PRId64 ",\"lines\":[", inv->records);
    for (size_t i = 0; i < inv->nlines; i++) {
        const bl_invoice_line_t *l = &inv->lines[i];
        char cost[48], audio[32];
        bl_dec_format(l->cost, cost, sizeof(cost));
        bl_format_audio(l->audio_ms, audio);
        ig_buf_puts(b, i ? ",{\"model\":" : "{\"model\":");
        ig_json_write_cstr(b, l->model);
        ig_buf_printf(b,
                      ",\"requests\":%" PRId64 ",\"prompt_tokens\":%" PRId64 ",\"cached_tokens\":%" PRId64
                      ",\"completion_tokens\":%" PRId64 ",\"audio_seconds\":\"%s\",\"cost\":\"%s\"}",
                      l->requests, l->prompt, l->cached, l->completion, audio, cost);
    }
    char total[48];
    bl_dec_format(inv->total, total, sizeof(total));
    ig_buf_printf(b, "],\"total\":\"%s\"}", total);
}

void bl_invoice_csv_header(ig_buf_t *b)
{
    ig_buf_puts(b, "invoice,customer,month,currency,model,requests,prompt_tokens,cached_tokens,completion_tokens,"
                   "audio_seconds,cost\n");
}

static void csv_row(ig_buf_t *b, const bl_invoice_t *inv, const bl_invoice_line_t *l)
{
    char cost[48], audio[32];
    bl_dec_format(l->cost, cost, sizeof(cost));
    bl_format_audio(l->audio_ms, audio);
    bl_csv_str(b, inv->number[0] ? inv->number : "draft");
    ig_buf_putc(b, ',');
    bl_csv_str(b, inv->customer);
    ig_buf_printf(b, ",%s,", inv->month);
    bl_csv_str(b, inv->currency);
    ig_buf_putc(b, ',');
    bl_csv_str(b, l->model);
    ig_buf_printf(b, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%s\n", l->requests, l->prompt, l->cached,
                  l->completion, audio, cost);
}

void bl_invoice_csv(ig_buf_t *b, const bl_invoice_t *inv)
{
    for (size_t i = 0; i < inv->nlines; i++)
        csv_row(b, inv, &inv->lines[i]);
    bl_invoice_line_t t = sum_lines(inv);
    csv_row(b, inv, &t);
}

/* Text as HTML: the five characters that could end an element or an attribute, escaped. */
static void html(ig_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': ig_buf_lit(b, "&amp;"); break;
        case '<': ig_buf_lit(b, "&lt;"); break;
        case '>': ig_buf_lit(b, "&gt;"); break;
        case '"': ig_buf_lit(b, "&quot;"); break;
        case '\'': ig_buf_lit(b, "&#39;"); break;
        default: ig_buf_putc(b, *s);
        }
    }
}

static void html_row(ig_buf_t *b, const bl_invoice_line_t *l, const char *cell)
{
    char cost[48], audio[32];
    bl_dec_format(l->cost, cost, sizeof(cost));
    bl_format_audio(l->audio_ms, audio);
    ig_buf_printf(b, "<tr><%s>", cell);
    html(b, l->model);
    ig_buf_printf(b,
                  "</%s><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
                  "</td><td>%s</td><td>%s</td></tr>\n",
                  cell, l->requests, l->prompt, l->cached, l->completion, audio, cost);
}

/*
 * A page that prints as the invoice: markup only — no inline script, style or event attribute, so
 * it renders under the strictest Content-Security-Policy (the route sends default-src 'none').
 */
void bl_invoice_html(ig_buf_t *b, const bl_invoice_t *inv)
{
    int issued = inv->number[0] != '\0';
    const char *title = issued ? inv->number : "Draft invoice";
    ig_buf_lit(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    html(b, title);
    ig_buf_lit(b, "</title>\n</head>\n<body>\n<main>\n<h1>");
    html(b, issued ? "Invoice " : "");
    html(b, title);
    ig_buf_lit(b, "</h1>\n<dl>\n<dt>Customer</dt><dd>");
    html(b, inv->customer);
    ig_buf_lit(b, "</dd>\n<dt>Period</dt><dd>");
    html(b, inv->month);
    ig_buf_lit(b, "</dd>\n<dt>Currency</dt><dd>");
    html(b, inv->currency);
    ig_buf_lit(b, "</dd>\n<dt>Issued</dt><dd>");
    if (issued) {
        char when[32];
        bl_format_time(inv->issued_at * 1000, when);
        html(b, when);
    } else {
        ig_buf_lit(b, "not issued");
    }
    ig_buf_lit(b, "</dd>\n</dl>\n<table>\n<thead><tr><th scope=\"col\">Model</th><th scope=\"col\">Requests</th>"
                  "<th scope=\"col\">Prompt tokens</th><th scope=\"col\">Cached tokens</th>"
                  "<th scope=\"col\">Completion tokens</th><th scope=\"col\">Audio seconds</th>"
                  "<th scope=\"col\">Cost</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < inv->nlines; i++)
        html_row(b, &inv->lines[i], "td");
    ig_buf_lit(b, "</tbody>\n<tfoot>\n");
    bl_invoice_line_t t = sum_lines(inv);
    html_row(b, &t, "th");
    ig_buf_lit(b, "</tfoot>\n</table>\n<p>Total: <strong>");
    char total[48];
    bl_dec_format(inv->total, total, sizeof(total));
    html(b, total);
    ig_buf_putc(b, ' ');
    html(b, inv->currency);
    ig_buf_lit(b, "</strong></p>\n</main>\n</body>\n</html>\n");
}
