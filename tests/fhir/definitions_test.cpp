#include "fhir/definitions.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace ucr::fhir {
namespace {

TEST(Definitions, ListEveryConcreteR4ResourceTypeSorted) {
  const auto& types = resource_types();
  // R4 CodeSystem resource-types has 148 codes; without Resource and DomainResource that is 146.
  EXPECT_EQ(types.size(), 146u);
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  for (const char* name : {"Patient", "Bundle", "Parameters", "Binary", "Observation", "Questionnaire",
                           "MedicinalProductUndesirableEffect", "VisionPrescription"}) {
    EXPECT_TRUE(std::binary_search(types.begin(), types.end(), name)) << name;
  }
}

TEST(Definitions, RecogniseResourceTypesButNotAbstractOrDatatypes) {
  EXPECT_TRUE(is_resource_type("Patient"));
  EXPECT_TRUE(is_resource_type("Bundle"));
  EXPECT_FALSE(is_resource_type("Resource"));
  EXPECT_FALSE(is_resource_type("DomainResource"));
  EXPECT_FALSE(is_resource_type("HumanName"));
  EXPECT_FALSE(is_resource_type("patient"));
  EXPECT_FALSE(is_resource_type("SubscriptionStatus"));  // R4B, not R4
  EXPECT_FALSE(is_resource_type(""));
}

TEST(Definitions, ReportTheFhirVersion) { EXPECT_EQ(fhir_version(), "4.0.1"); }

TEST(Definitions, EveryResourceTypeHasADefinitionWithTheResourceElements) {
  for (const auto& name : resource_types()) {
    const TypeDefinition* def = find_type(name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_TRUE(def->is_resource) << name;
    EXPECT_NE(def->find("id"), nullptr) << name;
    EXPECT_NE(def->find("meta"), nullptr) << name;
  }
}

TEST(Definitions, DescribeCardinalityAndTypesOfAnElement) {
  const ElementDefinition* name = find_element("Patient.name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->min, 0u);
  EXPECT_EQ(name->max, ElementDefinition::kUnbounded);
  ASSERT_EQ(name->types.size(), 1u);
  EXPECT_EQ(name->types[0].code, "HumanName");
  EXPECT_EQ(name->types[0].definition, find_type("HumanName"));

  const ElementDefinition* status = find_element("Observation.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->min, 1u);
  EXPECT_EQ(status->max, 1u);
  EXPECT_EQ(status->types[0].primitive, Primitive::kCode);
}

TEST(Definitions, TypeResourceIdAsIdNotString) {
  const ElementDefinition* id = find_element("Patient.id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->types[0].primitive, Primitive::kId);
  EXPECT_EQ(find_element("HumanName.id")->types[0].primitive, Primitive::kString);
  EXPECT_EQ(find_element("Extension.url")->types[0].primitive, Primitive::kUri);
}

TEST(Definitions, ExpandChoiceElementsIntoTypedJsonNames) {
  const TypeDefinition* observation = find_type("Observation");
  ASSERT_NE(observation, nullptr);
  const ChildLookup* quantity = observation->find("valueQuantity");
  ASSERT_NE(quantity, nullptr);
  EXPECT_TRUE(quantity->element->is_choice);
  EXPECT_EQ(quantity->element->path, "Observation.value[x]");
  EXPECT_EQ(quantity->element->types[quantity->type_index].code, "Quantity");
  EXPECT_NE(observation->find("valueString"), nullptr);
  EXPECT_NE(observation->find("valueDateTime"), nullptr);
  EXPECT_EQ(observation->find("value"), nullptr);
  EXPECT_EQ(observation->find("valueHumanName"), nullptr);
}

TEST(Definitions, UseSimpleQuantityUnderTheQuantityJsonName) {
  const TypeDefinition* dose = find_type("Dosage.doseAndRate");
  ASSERT_NE(dose, nullptr);
  const ChildLookup* quantity = dose->find("doseQuantity");
  ASSERT_NE(quantity, nullptr);
  EXPECT_EQ(quantity->element->types[quantity->type_index].code, "SimpleQuantity");
  EXPECT_EQ(find_element("SimpleQuantity.comparator")->max, 0u);
}

TEST(Definitions, ResolveContentReferencesToTheReferencedBackboneElement) {
  const ElementDefinition* nested = find_element("Questionnaire.item.item");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->children, find_type("Questionnaire.item"));
  EXPECT_EQ(find_element("Questionnaire.item")->children, find_type("Questionnaire.item"));
}

TEST(Definitions, KeepReferenceTargetsAsResourceTypeNames) {
  const ElementDefinition* subject = find_element("Observation.subject");
  ASSERT_NE(subject, nullptr);
  const auto& targets = subject->types[0].target_types;
  EXPECT_NE(std::find(targets.begin(), targets.end(), "Patient"), targets.end());
  EXPECT_NE(std::find(targets.begin(), targets.end(), "Group"), targets.end());
  EXPECT_EQ(std::find(targets.begin(), targets.end(), "Observation"), targets.end());
  // Target "Resource" means any resource type.
  EXPECT_TRUE(find_element("Observation.focus")->types[0].target_types.empty());
}

TEST(Definitions, ExpandRequiredBindingsFromBundledCodeSystems) {
  const ElementDefinition* gender = find_element("Patient.gender");
  ASSERT_NE(gender, nullptr);
  ASSERT_NE(gender->binding, nullptr);
  EXPECT_EQ(gender->binding->url, "http://hl7.org/fhir/ValueSet/administrative-gender");
  EXPECT_TRUE(gender->binding->contains_code("female"));
  EXPECT_TRUE(gender->binding->contains("http://hl7.org/fhir/administrative-gender", "unknown"));
  EXPECT_FALSE(gender->binding->contains_code("f"));
  EXPECT_EQ(find_value_set("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"), gender->binding);
  // Preferred/extensible bindings are not kept.
  EXPECT_EQ(find_element("Patient.maritalStatus")->binding, nullptr);
  // Value sets over code systems that are not bundled (BCP-13 mime types) are not expanded.
  EXPECT_EQ(find_element("Attachment.contentType")->binding, nullptr);
}

TEST(Definitions, ExpandHierarchicalCodeSystemsIncludingChildConcepts) {
  // v3 ActCode-based or nested FHIR code systems: every level of the hierarchy is a valid code.
  const ElementDefinition* status = find_element("Observation.status");
  ASSERT_NE(status->binding, nullptr);
  EXPECT_TRUE(status->binding->contains_code("corrected"));  // child of "amended"
}

TEST(Definitions, UndoR5AdditionsFoundInTheRedistributedSnapshots) {
  EXPECT_EQ(find_element("EvidenceVariable.characteristic.definitionByCombination"), nullptr);
  EXPECT_NE(find_element("EvidenceVariable.characteristic.definition[x]"), nullptr);
  EXPECT_EQ(find_element("ResearchStudy.label"), nullptr);
  EXPECT_EQ(find_element("Binary.url"), nullptr);
  EXPECT_NE(find_element("ResearchStudy.id"), nullptr);
}

TEST(Definitions, LoadOnceSafelyFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<const TypeDefinition*> seen(8);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] { seen[i] = find_type("Patient"); });
  }
  for (auto& t : threads) t.join();
  for (const auto* def : seen) EXPECT_EQ(def, seen[0]);
}

}  // namespace
}  // namespace ucr::fhir
