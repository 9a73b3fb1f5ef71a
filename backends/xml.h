/* One safe way to read the XML replies of S3 and Azure: libxml2 with no network access and no entity
 * expansion (a hostile server cannot make us read files or blow up memory). */
#ifndef SNAPFS_XML_H
#define SNAPFS_XML_H

#include <libxml/tree.h>
#include <stddef.h>

/* Parse a reply body; NULL if it is not well-formed XML. Free with xmlFreeDoc(). */
xmlDocPtr xml_parse(const char *data, size_t len);
/* First child element of node named name (namespace ignored), or NULL. */
xmlNodePtr xml_child(xmlNodePtr node, const char *name);
/* Next sibling element after node named name, or NULL (use to iterate repeated elements). */
xmlNodePtr xml_next(xmlNodePtr node, const char *name);
/* Text of the first child element named name, malloc'd ("" if empty); NULL if absent. */
char *xml_child_text(xmlNodePtr node, const char *name);
/* Text content of node itself, malloc'd. */
char *xml_text(xmlNodePtr node);

#endif
