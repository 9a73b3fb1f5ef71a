/* libFuzzer: backends/xml.c, the one way S3 and Azure replies are read. Parse any bytes, then walk the
 * tree with the same helpers the backends use. */
#include "fuzz_common.h"
#include "backends/xml.h"

#include <libxml/parser.h>

static size_t walk(xmlNodePtr n, int depth)
{
	size_t sum = 0;

	if (!n || depth > 64)
		return 0;
	for (xmlNodePtr c = n->children; c; c = c->next) {
		char *t;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		t = xml_text(c);
		sum += t ? strlen(t) : 0;
		free(t);
		t = xml_child_text(n, (const char *)c->name);
		sum += t ? strlen(t) : 0;
		free(t);
		/* the lookups the backends do by name, first and repeated */
		for (xmlNodePtr s = xml_child(n, (const char *)c->name); s; s = xml_next(s, (const char *)c->name))
			sum++;
		sum += walk(c, depth + 1);
	}
	return sum;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	xmlDocPtr doc = xml_parse((const char *)data, size);
	volatile size_t sum;

	if (!doc)
		return 0;
	sum = walk((xmlNodePtr)doc, 0);
	(void)sum;
	xmlFreeDoc(doc);
	return 0;
}
