/* search/parameters_data: embeds data/fhir-r4/search-parameters.json into the library (read-only data).
   UCR_SEARCH_PARAMETERS_JSON is the file's absolute path, set by src/search/CMakeLists.txt. */
        .section .rodata
        .global ucr_search_parameters_json
        .type ucr_search_parameters_json, @object
        .balign 16
ucr_search_parameters_json:
        .incbin UCR_SEARCH_PARAMETERS_JSON
ucr_search_parameters_json_end:
        .byte 0
        .size ucr_search_parameters_json, . - ucr_search_parameters_json

        .global ucr_search_parameters_json_size
        .type ucr_search_parameters_json_size, @object
        .balign 8
ucr_search_parameters_json_size:
        .quad ucr_search_parameters_json_end - ucr_search_parameters_json
        .size ucr_search_parameters_json_size, 8

        .section .note.GNU-stack,"",@progbits
