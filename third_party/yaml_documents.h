// A guard for yaml-cpp 0.7 (Debian 12's), shared by every YAML configuration loader.
//
// YAML::LoadAll in that release loops forever, allocating, on a stream it cannot advance through
// (a lone ',' at the top level: Parser::HandleNextDocument keeps returning a document that starts
// at the same place). Loaders call ScanYamlDocuments first, reject a stuck or multi-document
// stream with the line it names, and YAML::Load() a stream that holds one document.

#ifndef TOLLGATE_THIRD_PARTY_YAML_DOCUMENTS_H_
#define TOLLGATE_THIRD_PARTY_YAML_DOCUMENTS_H_

#include <string>

namespace tollgate {

// YamlDocuments is what ScanYamlDocuments found in a YAML stream.
struct YamlDocuments {
  // Documents, counting up to 2 ("more than one"); as with YAML::LoadAll, an empty document
  // ("---" alone) counts, an empty stream holds none.
  int count = 0;
  // The 1-based line of the second document's root, when count is 2.
  int second_line = 0;
  // The 1-based line where the parser stopped advancing, or 0.
  int stuck_line = 0;
};

// ScanYamlDocuments counts the documents of |text| without building nodes. Syntax errors throw
// YAML::Exception, as YAML::LoadAll does; a stream the parser cannot advance through sets
// |stuck_line| instead of looping.
YamlDocuments ScanYamlDocuments(const std::string& text);

}  // namespace tollgate

#endif  // TOLLGATE_THIRD_PARTY_YAML_DOCUMENTS_H_
