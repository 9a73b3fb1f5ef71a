#include "backends/xml.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

xmlDocPtr xml_parse(const char *data, size_t len)
{
	/* No XML_PARSE_NOENT (that would substitute entities), no DTD loading, no network. */
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;

	if (!data || !len || len > (size_t)1 << 30)
		return NULL;
	return xmlReadMemory(data, (int)len, "reply.xml", NULL, opts);
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

xmlNodePtr xml_child(xmlNodePtr node, const char *name)
{
	if (!node)
		return NULL;
	for (xmlNodePtr c = node->children; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

xmlNodePtr xml_next(xmlNodePtr node, const char *name)
{
	if (!node)
		return NULL;
	for (xmlNodePtr c = node->next; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

char *xml_text(xmlNodePtr node)
{
	xmlChar *t = xmlNodeGetContent(node);
	char *s = strdup(t ? (const char *)t : "");

	xmlFree(t);
	return s;
}

char *xml_child_text(xmlNodePtr node, const char *name)
{
	xmlNodePtr c = xml_child(node, name);

	return c ? xml_text(c) : NULL;
}
